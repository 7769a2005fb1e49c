// The driver's reap loop, drainUsed (§2.7.14, 2.7.14/D1): every entry
// reaped in used ring order with used buffer notifications off, then on
// again; an entry returned between the last getBuf and enableCallbacks
// reaped in the same call (and what happens without that last look); a
// broken queue ends the loop; chains added from the callback and completed
// at once are reaped too; SplitQueueDriver.drainUsed goes through its part.

import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import { drainUsed, type UsedBufferSource } from "../../virtqueue/driver/drain.ts";
import { VIRTQ_AVAIL_F_NO_INTERRUPT } from "../../virtqueue/constants.ts";
import { usedElemOffset, VIRTQ_USED_IDX_OFFSET } from "../../virtqueue/layout.ts";
import type { UsedBuffer } from "../../virtqueue/types.ts";

function queue(options: { startIdx?: number; size?: number } = {}) {
  const memory = new GuestMemory(1 << 18);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size: options.size ?? 8, eventIdx: false, indirect: false };
  const driver = SplitQueueDriver.create<string>({
    ...common,
    allocator,
    reporter: log.scoped("driver"),
    startIdx: options.startIdx,
  });
  const device = new SplitQueueDevice(
    { ...common, ...driver.addresses, reporter: log.scoped("device") },
    () => {},
    { startIdx: options.startIdx },
  );
  const post = (...tokens: string[]) => {
    for (const t of tokens) driver.add([], [{ addr: allocator.alloc(64), len: 64 }], t);
    driver.kickPrepare();
  };
  /** The device takes what is available and returns `n` of the chains it holds. */
  const held: number[] = [];
  const complete = (n: number) => {
    for (let c = device.pop(); c !== null; c = device.pop()) held.push(c.head);
    for (const head of held.splice(0, n)) device.push(head, 8);
    return device.needsInterrupt();
  };
  const availFlags = () => memory.readU16(driver.addresses.availAddr);
  return { memory, log, driver, device, post, complete, availFlags };
}

Deno.test("drainUsed reaps every entry in used ring order, with notifications off while it does", () => {
  const q = queue({ startIdx: 0xfffe });
  q.post("a", "b", "c", "d");
  assert.equal(q.complete(4), true);
  const seen: string[] = [];
  q.driver.drainUsed((used) => {
    assert.equal(q.driver.ring.callbacks, false);
    assert.equal(q.availFlags(), VIRTQ_AVAIL_F_NO_INTERRUPT);
    seen.push(`${used.token}/${used.len}`);
  });
  assert.deepEqual(seen, ["a/8", "b/8", "c/8", "d/8"]);
  assert.equal(q.driver.ring.callbacks, true);
  assert.equal(q.availFlags(), 0);
  assert.equal(q.driver.lastUsedIdx, 0x0002, "across the 16-bit wrap");
  assert.equal(q.driver.hasUsed(), false);
  assert.equal(q.log.entries.length, 0, q.log.format());
});

/** The queue's three steps, with the device returning one more chain right after the first empty getBuf. */
function lateCompletion(q: ReturnType<typeof queue>) {
  let fired = false;
  let interrupted = false;
  const source: UsedBufferSource<string> = {
    getBuf() {
      const used = q.driver.getBuf();
      if (used === null && !fired) {
        fired = true;
        interrupted = q.complete(1);
      }
      return used;
    },
    disableCallbacks: () => q.driver.disableCallbacks(),
    enableCallbacks: () => q.driver.enableCallbacks(),
  };
  return { source, interrupted: () => interrupted };
}

Deno.test("an entry returned between the last getBuf and enableCallbacks is reaped in the same call (2.7.14/D1)", () => {
  const q = queue();
  q.post("first", "late");
  q.complete(1);
  const late = lateCompletion(q);
  const seen: string[] = [];
  drainUsed(late.source, (used) => void seen.push(used.token));
  assert.equal(late.interrupted(), false, "the device saw notifications off and sent none");
  assert.deepEqual(seen, ["first", "late"]);
  assert.equal(q.driver.hasUsed(), false);
});

Deno.test("without the last look, that entry waits for a notification that never comes", () => {
  const q = queue();
  q.post("first", "late");
  q.complete(1);
  const late = lateCompletion(q);
  const seen: string[] = [];
  // The loop without its re-check: enableCallbacks' answer ignored.
  late.source.disableCallbacks();
  for (let u = late.source.getBuf(); u !== null; u = late.source.getBuf()) seen.push(u.token);
  late.source.enableCallbacks();
  assert.deepEqual(seen, ["first"]);
  assert.equal(late.interrupted(), false);
  assert.equal(q.driver.hasUsed(), true, "stranded: the device will not interrupt for it");
});

Deno.test("a broken queue ends the loop: what came before the bad entry is reaped, nothing after", () => {
  const q = queue();
  q.post("good", "never returned");
  q.complete(1);
  // A hostile device returns descriptor 7, which heads no chain.
  const { usedAddr } = q.driver.addresses;
  q.memory.writeU32(usedAddr + usedElemOffset(1), 7);
  q.memory.writeU16(usedAddr + VIRTQ_USED_IDX_OFFSET, 2);
  const seen: string[] = [];
  q.driver.drainUsed((used) => void seen.push(used.token));
  assert.deepEqual(seen, ["good"]);
  assert.equal(q.driver.broken?.id, "2.7.8/D1");
  assert.deepEqual(q.log.entries.map((v) => v.id), ["2.7.8/D1"]);
});

Deno.test("chains added from the callback and returned at once are reaped in the same call", () => {
  const q = queue({ size: 4 });
  q.post("r0");
  q.complete(1);
  let n = 0;
  const seen: string[] = [];
  q.driver.drainUsed((used: UsedBuffer<string>) => {
    seen.push(used.token);
    if (++n < 6) {
      q.post(`r${n}`); // refill, and a device that answers before the driver looks again
      q.complete(1);
    }
  });
  assert.deepEqual(seen, ["r0", "r1", "r2", "r3", "r4", "r5"]);
  assert.equal(q.driver.hasUsed(), false);
  assert.equal(q.driver.numFree, 4);
});

Deno.test("SplitQueueDriver.drainUsed calls its drainUsed part with itself, and nothing once freed", () => {
  const memory = new GuestMemory(1 << 16);
  const allocator = new GuestAllocator(memory);
  const calls: unknown[] = [];
  const driver = SplitQueueDriver.create<string>({
    memory,
    allocator,
    index: 0,
    size: 4,
    eventIdx: false,
    indirect: false,
    reporter: new ConformanceLog().scoped("q"),
    parts: { drainUsed: (source, onUsed) => void calls.push(source, onUsed) },
  });
  const onUsed = () => {};
  driver.drainUsed(onUsed);
  assert.deepEqual(calls, [driver, onUsed]);
  driver.free();
  driver.drainUsed(onUsed);
  assert.equal(calls.length, 2);
});
