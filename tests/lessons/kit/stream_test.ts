// Tests for lessons/kit/stream.ts. A stream fixture lays its buffers out as
// described (abutting where it says, the background elsewhere) and sees a
// byte changed outside them; the library's stream functions pass every stream
// row; a reader of the first buffer only and a writer that runs past a
// buffer fail the rows of their mistakes.

import assert from "node:assert/strict";
import { readChain, writeChain } from "../../../virtqueue/chain.ts";
import { every, ruleFor } from "../../../lessons/kit/rules.ts";
import {
  STREAM_BACKGROUND,
  STREAM_SPLITS,
  streamByte,
  streamCases,
  streamFixture,
  type StreamParts,
  streamSubject,
} from "../../../lessons/kit/stream.ts";
import { failed, gradeRows } from "./_grade.ts";

Deno.test("a stream fixture holds the stream in its buffers and the background around them", () => {
  const f = streamFixture([1, 7, 8, 4]);
  assert.equal(f.length, 20);
  assert.deepEqual([...f.stream()], Array.from({ length: 20 }, (_, i) => streamByte(i)));
  const [a, b, c, d] = f.segments;
  assert.equal(b.addr, a.addr + 1 + 5, "a gap of 5 after the first buffer");
  assert.equal(d.addr, c.addr + 8, "the third buffer abuts the fourth");
  assert.equal(f.memory.readU8(a.addr - 1), STREAM_BACKGROUND);
  assert.deepEqual(f.outside(), []);
  f.memory.writeU8(d.addr + d.len, 0);
  assert.deepEqual(f.outside(), [d.addr + d.len]);
  assert.deepEqual(f.changed(), [d.addr + d.len]);
});

Deno.test("every split fits the fixture's RAM, and the cases cover each", () => {
  for (const split of STREAM_SPLITS) streamFixture(split);
  const cases = streamCases("read");
  assert.ok(cases.length > 300);
  for (const split of STREAM_SPLITS) assert.ok(cases.some((c) => c[1] === split));
});

const rows = (parts: (impl: StreamParts) => StreamParts) => {
  const row = ruleFor(streamSubject<StreamParts>(parts), { hint: 1 });
  return [
    row({
      name: "reads",
      requirement: "2.7.4.1/1",
      cases: every(streamCases("read")),
      verdict: (o) => ({ outcome: o.outcome, dest: o.dest }),
      why: "the stream",
    }),
    row({
      name: "writes inside",
      requirement: "2.7.5.1/1",
      cases: every(streamCases("write")),
      verdict: (o) => o.outside,
      why: "nothing outside",
    }),
  ];
};
const library: StreamParts = { read: readChain, write: writeChain };

Deno.test("the library's readChain and writeChain pass the stream rows", async () => {
  assert.deepEqual([...failed(await gradeRows(rows((p) => p), library)).keys()], []);
});

Deno.test("a first-buffer reader and an overrunning writer fail their rows", async () => {
  const firstOnly: StreamParts = {
    read: (m, segs, dest, offset = 0) => {
      const n = Math.max(0, Math.min(dest.length, segs[0].len - offset));
      dest.set(m.bytes(segs[0].addr + offset, n));
      return n;
    },
    write: writeChain,
  };
  const overrun: StreamParts = {
    read: readChain,
    write: (m, segs, src, offset = 0) => {
      m.write(segs[0].addr + offset, src.subarray(0, segs.reduce((s, b) => s + b.len, 0)));
      return Math.min(src.length, segs.reduce((s, b) => s + b.len, 0) - offset);
    },
  };
  assert.deepEqual([...failed(await gradeRows(rows((p) => p), firstOnly)).keys()], ["reads"]);
  const f = failed(await gradeRows(rows((p) => p), overrun));
  assert.ok(f.has("writes inside"));
});
