/**
 * Split virtqueue round trips (virtio v1.2 §2.7): driver add + kickPrepare,
 * device pop + push + needsInterrupt, driver getBuf.
 *
 * Run with `deno bench bench/virtqueue_bench.ts`.
 *
 * @module
 */

import { GuestMemory } from "../memory/guest_memory.ts";
import { GuestAllocator } from "../memory/allocator.ts";
import { ConformanceLog } from "../conformance/log.ts";
import { SplitQueueDriver } from "../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../virtqueue/device_queue.ts";
import type { BufferSegment } from "../virtqueue/types.ts";

interface Pair {
  driver: SplitQueueDriver<number>;
  device: SplitQueueDevice;
  allocator: GuestAllocator;
  log: ConformanceLog;
}

function pair(size: number, eventIdx: boolean, indirect: boolean): Pair {
  const memory = new GuestMemory(4 << 20);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size, eventIdx, indirect };
  const driver = SplitQueueDriver.create<number>({
    ...common,
    allocator,
    reporter: log.scoped("bench queue 0"),
  });
  const device = new SplitQueueDevice({
    ...common,
    ...driver.addresses,
    reporter: log.scoped("bench queue 0"),
  });
  return { driver, device, allocator, log };
}

/** Fails the bench loudly if a round trip went wrong. */
function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`Bench round trip failed: ${what}`);
}

for (const eventIdx of [false, true]) {
  const p = pair(256, eventIdx, false);
  const buf: BufferSegment[] = [{ addr: p.allocator.alloc(512), len: 512 }];
  const none: BufferSegment[] = [];
  let token = 0;
  Deno.bench({
    name: `round trip, 1-descriptor chain, event idx ${eventIdx}`,
    group: "round trip",
    baseline: !eventIdx,
    fn() {
      p.driver.add(none, buf, token++);
      p.driver.kickPrepare();
      const chain = p.device.pop()!;
      p.device.push(chain.head, 512);
      p.device.needsInterrupt();
      const used = p.driver.getBuf();
      check(used !== null && used.len === 512, "1-descriptor chain");
    },
  });
}

for (const eventIdx of [false, true]) {
  const p = pair(256, eventIdx, false);
  const buf: BufferSegment[] = [{ addr: p.allocator.alloc(512), len: 512 }];
  const none: BufferSegment[] = [];
  const heads = new Uint16Array(64);
  Deno.bench({
    name: `batch of 64 (add 64, pop 64, push 64, reap 64), event idx ${eventIdx}`,
    group: "batch",
    baseline: !eventIdx,
    fn() {
      for (let k = 0; k < 64; k++) p.driver.add(none, buf, k);
      p.driver.kickPrepare();
      for (let k = 0; k < 64; k++) heads[k] = p.device.pop()!.head;
      for (let k = 0; k < 64; k++) p.device.push(heads[k], 512);
      p.device.needsInterrupt();
      let reaped = 0;
      while (p.driver.getBuf() !== null) reaped++;
      check(reaped === 64, "batch of 64");
    },
  });
}

{
  const p = pair(256, true, true);
  const header: BufferSegment[] = [{ addr: p.allocator.alloc(16), len: 16 }];
  const data: BufferSegment[] = [
    { addr: p.allocator.alloc(4096), len: 4096 },
    { addr: p.allocator.alloc(4096), len: 4096 },
    { addr: p.allocator.alloc(1), len: 1 },
  ];
  let token = 0;
  Deno.bench({
    name: "round trip, 4-segment chain through an indirect table, event idx true",
    group: "indirect",
    fn() {
      p.driver.add(header, data, token++);
      p.driver.kickPrepare();
      const chain = p.device.pop()!;
      p.device.push(chain.head, chain.writableLength);
      p.device.needsInterrupt();
      const used = p.driver.getBuf();
      check(used !== null && used.len === 8193 && chain.indirect, "indirect chain");
    },
  });
}
