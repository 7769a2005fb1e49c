// Tests for lessons/kit/hostile_device.ts. The reference driver half reports
// exactly each case's rule, never throws and frees only what came back; an
// independent correct getBuf passes every row; getBufs that trust the device
// (its id, its len, its idx) or compare indices modulo the Queue Size fail
// the row of their mistake.

import assert from "node:assert/strict";
import { breakDriverRing, HEAD_PUBLISHED } from "../../../virtqueue/driver/ring.ts";
import {
  REFERENCE_SPLIT_RING_DRIVER_PARTS as REF,
  type SplitRingDriverParts,
} from "../../../virtqueue/parts.ts";
import {
  HOSTILE_COMPLETION_ROWS,
  HOSTILE_COMPLETIONS,
  hostileCompletionRows,
  hostileCompletionSubject,
  reapHostileCompletion,
} from "../../../lessons/kit/hostile_device.ts";
import { failed, gradeRows } from "./_grade.ts";

const descriptors = (c: (typeof HOSTILE_COMPLETIONS)[number]) =>
  c.post.reduce((n, p) => n + (p.readable?.length ?? 0) + (p.writable?.length ?? 0), 0);

for (const c of HOSTILE_COMPLETIONS) {
  Deno.test(`the reference driver half on ${c.name}: ${c.accepted ? "reaped" : `reports ${c.rule}`}`, () => {
    const run = reapHostileCompletion(c);
    assert.equal(run.runaway, null);
    assert.ok(!("threw" in run), `threw ${String(run.threw)}`);
    const size = c.fixture?.size ?? 8;
    if (c.accepted) {
      assert.deepEqual(run.reported, []);
      assert.equal(run.broken, null);
      assert.equal(run.reaped.length, c.post.length);
      assert.equal(run.numFree, size, "everything came back");
    } else {
      assert.deepEqual(run.reported, [c.rule]);
      assert.equal(run.broken, c.rule);
      assert.ok(run.reaped.length < c.post.length);
      assert.ok(run.numFree < size, "what did not come back stays the device's");
      assert.ok(run.numFree >= size - descriptors(c));
    }
  });
}

Deno.test("the hostile-device corpus covers the brief's classes, each with a row name", () => {
  const names = HOSTILE_COMPLETIONS.map((c) => c.name).join("\n");
  for (
    const pattern of [
      /used id of Queue Size/,
      /middle of a chain/,
      /never posted/,
      /same id returned twice/,
      /len one byte above the writable bytes/,
      /two entries ahead/,
      /moved back/,
    ]
  ) assert.match(names, pattern);
  for (const c of HOSTILE_COMPLETIONS) assert.ok(HOSTILE_COMPLETION_ROWS[c.rule], c.rule);
});

Deno.test("what a bad entry leaves: the chains before it reaped, nothing freed on its word", () => {
  const twice = HOSTILE_COMPLETIONS.find((c) => c.name === "the same id returned twice")!;
  const run = reapHostileCompletion(twice);
  assert.deepEqual(run.reaped, [{ token: "chain 0", len: 64 }]);
  assert.equal(run.numFree, 7);
  assert.match(
    run.used,
    /used idx 0x0002 \(slot 2 of 8\) from 0x0000, elements \[\{ id 0, len 64 \}, \{ id 0, len 64 \}\]/,
  );
});

// --------------------------------------- a learner's getBuf, written from the contract

interface Mistakes {
  readonly trustsId?: boolean;
  readonly trustsLen?: boolean;
  readonly trustsIdx?: boolean;
  readonly moduloSize?: boolean;
}

function reaper(m: Mistakes = {}): SplitRingDriverParts["getBuf"] {
  return (ring, detach) => {
    if (ring.broken !== null) return null;
    const memory = ring.memory;
    const usedIdx = memory.readU16(ring.usedAddr + 2);
    const last = ring.lastUsed;
    if (m.moduloSize ? (usedIdx & ring.mask) === (last & ring.mask) : usedIdx === last) return null;
    const pending = (usedIdx - last) & 0xffff;
    if (!m.trustsIdx && pending > ring.published) {
      return breakDriverRing(ring, "2.7.8/D2", `Used idx ${usedIdx} is ${pending} ahead`, {
        usedIdx,
      });
    }
    const at = ring.usedAddr + 4 + 8 * (last & ring.mask);
    const id = memory.readU32(at);
    const len = memory.readU32(at + 4);
    if (!m.trustsId && !(id < ring.size && ring.state[id] === HEAD_PUBLISHED)) {
      return breakDriverRing(ring, "2.7.8/D1", `Used id ${id} is not an outstanding head`, { id });
    }
    if (!m.trustsLen && len > ring.writable[id]) {
      return breakDriverRing(ring, "2.7.8.2/2", `Used len ${len} is too long`, { id, len });
    }
    ring.lastUsed = (last + 1) & 0xffff;
    ring.published--;
    return { token: detach(id), len };
  };
}

interface Impl {
  readonly getBuf: SplitRingDriverParts["getBuf"];
}

const subject = hostileCompletionSubject<Impl>((impl) => ({ getBuf: impl.getBuf }));
const rows = () => hostileCompletionRows(subject, { hint: 3 });

Deno.test("the reference and an independent correct getBuf pass every row", async () => {
  for (const impl of [{ getBuf: REF.getBuf }, { getBuf: reaper() }]) {
    const results = await gradeRows(rows(), impl);
    assert.deepEqual([...failed(results).values()].map((r) => r.message), []);
    assert.equal(results.length, 3);
  }
});

const MISTAKES: readonly [string, Mistakes, string, RegExp][] = [
  [
    "trusting the device's id",
    { trustsId: true },
    "a used id that is not the head of an outstanding chain is refused",
    /reaping a used id of Queue Size .* (and the driver reaped|threw RangeError)/,
  ],
  [
    "trusting the device's len",
    { trustsLen: true },
    "a used len above the writable bytes posted is refused",
    /reaped chain 0 \(len 513\), reported nothing[\s\S]*CVE-2021-38160/,
  ],
  [
    "trusting the device's idx",
    { trustsIdx: true },
    "a used idx beyond what is outstanding is refused, across the wrap too",
    /two entries ahead with one chain outstanding .* reported 2\.7\.8\/D1/,
  ],
  [
    "comparing indices modulo the Queue Size",
    { moduloSize: true },
    "a used idx beyond what is outstanding is refused, across the wrap too",
    /Queue Size completions pending at once .* reaped nothing[\s\S]*xv6-riscv aeaf610/,
  ],
];

for (const [mistake, m, row, message] of MISTAKES) {
  Deno.test(`a getBuf ${mistake} fails "${row}"`, async () => {
    const failures = failed(await gradeRows(rows(), { getBuf: reaper(m) }));
    const result = failures.get(row);
    assert.ok(result, `failed: ${[...failures.keys()].join("; ")}`);
    assert.match(result.message, message);
  });
}

Deno.test("a getBuf that frees more than the chain it reaps shows in numFree", async () => {
  // Frees every descriptor of the table, whatever the head: a driver that walks guest memory.
  const greedy: Impl = {
    getBuf: (ring, detach) => {
      const got = REF.getBuf(ring, detach);
      if (got !== null) ring.numFree = ring.size;
      return got;
    },
  };
  const failures = failed(await gradeRows(rows(), greedy));
  assert.ok(failures.has("a used id that is not the head of an outstanding chain is refused"));
  assert.match(
    failures.get("a used id that is not the head of an outstanding chain is refused")!.message,
    /the same id returned twice .* 8 descriptor\(s\) free afterwards/,
  );
});
