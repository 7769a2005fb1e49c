// Tests for lessons/kit/ring_steps.ts: the other side's moves are made with
// the reference parts and unobserved, and a run records what the part under
// test returned or threw, the ids it reported and its stray stores.

import assert from "node:assert/strict";
import { ringFixture } from "../../../lessons/kit/ring.ts";
import {
  drainRing,
  publishChains,
  runOnRing,
  showRingRun,
} from "../../../lessons/kit/ring_steps.ts";
import { REFERENCE_SPLIT_RING_DRIVER_PARTS as DRIVER } from "../../../virtqueue/parts.ts";
import { NotWrittenYetError } from "../../../course/stub.ts";

Deno.test("publishChains publishes across the wrap without a kick decision, unobserved", () => {
  const f = ringFixture({ size: 4, startIdx: 0xfffe });
  assert.equal(publishChains(f, 3), 0xfffe);
  assert.equal(f.availIdx(), 0x0001);
  assert.equal(f.driver.availIdx, 0x0001);
  assert.equal(f.driver.numFree, 1);
  assert.deepEqual([f.memory.loads, f.memory.stores], [0, 0]);
});

Deno.test("drainRing takes, returns and reaps everything published, through the fixture's parts", () => {
  const f = ringFixture({ size: 4, startIdx: 0xffff });
  publishChains(f, 4);
  assert.equal(drainRing(f), 4);
  assert.equal(f.device.lastAvail, 0x0003);
  assert.equal(f.driver.numFree, 4);
  assert.equal(drainRing(f), 0);
  assert.equal(f.memory.stores, 0);
  assert.equal(f.log.entries.length, 0, f.log.format());
});

Deno.test("runOnRing records the outcome, the ids reported once each, and stores outside the allowed fields", () => {
  const f = ringFixture();
  const old = publishChains(f, 1);
  f.memory.quietly(() => f.memory.writeU16(f.addresses.usedAddr, 3)); // bad used flags
  const run = runOnRing(f, [], () => DRIVER.needsKick(f.driver, old));
  assert.deepEqual(run, { outcome: { returned: false }, reported: ["2.7.10.2/1"], stray: 0 });
  assert.equal(showRingRun(run), "returned false, reported 2.7.10.2/1");
  const wide = runOnRing(
    f,
    [f.addresses.usedAddr],
    () => f.memory.writeU32(f.addresses.usedAddr, 0),
  );
  assert.equal(wide.stray, 1, "a 32-bit store over a 16-bit field is stray");
  const threw = runOnRing(f, [], () => {
    throw new RangeError("bad");
  });
  assert.match(showRingRun(threw), /^threw RangeError: bad, reported nothing$/);
  assert.throws(
    () =>
      runOnRing(f, [], () => {
        throw new NotWrittenYetError("needsKick", "decide");
      }),
    NotWrittenYetError,
    "a stub's todo() passes through",
  );
});
