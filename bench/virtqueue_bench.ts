/**
 * Split virtqueue round trips (virtio v1.2 §2.7): driver add + kickPrepare,
 * device pop + push + needsInterrupt, driver getBuf.
 *
 * The "round trip" group's baseline is the same ring work written inline on
 * one `DataView`, with no validation, no shadow state and no objects: write
 * the descriptor, the available ring slot and the available idx; read the
 * available idx, the head and the descriptor; write the used element and the
 * used idx; read the used idx and the element. `deno bench` prints how many
 * times slower each real round trip is than that loop, measured in the same
 * run, so the ratio does not depend on the machine.
 *
 * The classes take fused fast paths while every part is the reference one
 * (`virtqueue/driver/fast_path.ts`, `virtqueue/device/fast_path.ts`); the
 * "forwarding parts" benchmark runs the same loop through the parts table,
 * the path a learner's parts take.
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
import { addChain } from "../virtqueue/driver/add.ts";
import { needsKick, placeAvailEntry, publishAvail } from "../virtqueue/driver/avail.ts";
import { getBuf } from "../virtqueue/driver/used.ts";
import { detachChain } from "../virtqueue/driver/detach.ts";
import { availableCount, availHead } from "../virtqueue/device/avail.ts";
import { walkChain } from "../virtqueue/device/walk.ts";
import { needsInterrupt, pushUsed } from "../virtqueue/device/used.ts";
import type { BufferSegment } from "../virtqueue/types.ts";
import {
  forwardingParts,
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
} from "../virtqueue/parts.ts";

interface Pair {
  driver: SplitQueueDriver<number>;
  device: SplitQueueDevice;
  allocator: GuestAllocator;
  log: ConformanceLog;
}

function pair(size: number, eventIdx: boolean, indirect: boolean, viaParts = false): Pair {
  const memory = new GuestMemory(4 << 20);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size, eventIdx, indirect };
  const driver = SplitQueueDriver.create<number>({
    ...common,
    allocator,
    reporter: log.scoped("bench queue 0"),
    parts: viaParts ? forwardingParts(REFERENCE_SPLIT_RING_DRIVER_PARTS) : undefined,
  });
  const device = new SplitQueueDevice(
    {
      ...common,
      ...driver.addresses,
      reporter: log.scoped("bench queue 0"),
    },
    undefined,
    { parts: viaParts ? forwardingParts(REFERENCE_SPLIT_RING_DEVICE_PARTS) : undefined },
  );
  return { driver, device, allocator, log };
}

/** Fails the bench loudly if a round trip went wrong. */
function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`Bench round trip failed: ${what}`);
}

// ---------------------------------------------------------------------------
// One 1-descriptor chain, driver to device and back

{
  // The baseline: the ring's memory traffic and nothing else, on one DataView.
  const SIZE = 256;
  const MASK = SIZE - 1;
  const DESC = 0x0000;
  const AVAIL = 0x1000;
  const USED = 0x2000;
  const BUF = 0x3000;
  const view = new DataView(new ArrayBuffer(0x4000));
  let availIdx = 0; // driver
  let lastUsed = 0; // driver
  let lastAvail = 0; // device
  let usedIdx = 0; // device
  Deno.bench({
    name: "inline loop on one DataView (baseline)",
    group: "round trip",
    baseline: true,
    fn() {
      // Driver: descriptor, available slot, available idx.
      const head = availIdx & MASK;
      const d = DESC + 16 * head;
      view.setUint32(d, BUF, true);
      view.setUint32(d + 4, 0, true);
      view.setUint32(d + 8, 512, true);
      view.setUint16(d + 12, 2, true); // VIRTQ_DESC_F_WRITE
      view.setUint16(d + 14, 0, true);
      view.setUint16(AVAIL + 4 + 2 * (availIdx & MASK), head, true);
      availIdx = (availIdx + 1) & 0xffff;
      view.setUint16(AVAIL + 2, availIdx, true);
      // Device: available idx, head, descriptor; used element, used idx.
      const idx = view.getUint16(AVAIL + 2, true);
      check(idx !== lastAvail, "inline avail idx");
      const h = view.getUint16(AVAIL + 4 + 2 * (lastAvail & MASK), true);
      lastAvail = (lastAvail + 1) & 0xffff;
      const dd = DESC + 16 * h;
      const addr = view.getUint32(dd, true) + view.getUint32(dd + 4, true) * 2 ** 32;
      const len = view.getUint32(dd + 8, true);
      const flags = view.getUint16(dd + 12, true);
      view.getUint16(dd + 14, true);
      check(addr === BUF && flags === 2, "inline descriptor");
      const e = USED + 4 + 8 * (usedIdx & MASK);
      view.setUint32(e, h, true);
      view.setUint32(e + 4, len, true);
      usedIdx = (usedIdx + 1) & 0xffff;
      view.setUint16(USED + 2, usedIdx, true);
      // Driver: used idx, element.
      const used = view.getUint16(USED + 2, true);
      check(used !== lastUsed, "inline used idx");
      const r = USED + 4 + 8 * (lastUsed & MASK);
      const id = view.getUint32(r, true);
      const usedLen = view.getUint32(r + 4, true);
      lastUsed = (lastUsed + 1) & 0xffff;
      check(id === head && usedLen === 512, "inline used element");
    },
  });
}

{
  // The same loop through GuestMemory's bounds-checked accessors instead of
  // a DataView: what the memory abstraction alone costs, before any ring
  // logic, validation or shadow state.
  const SIZE = 256;
  const MASK = SIZE - 1;
  const DESC = 0x0000;
  const AVAIL = 0x1000;
  const USED = 0x2000;
  const BUF = 0x3000;
  const memory = new GuestMemory(0x4000);
  let availIdx = 0;
  let lastUsed = 0;
  let lastAvail = 0;
  let usedIdx = 0;
  Deno.bench({
    name: "inline loop through GuestMemory accessors",
    group: "round trip",
    fn() {
      const head = availIdx & MASK;
      const d = DESC + 16 * head;
      memory.writeU64(d, BUF);
      memory.writeU32(d + 8, 512);
      memory.writeU16(d + 12, 2);
      memory.writeU16(d + 14, 0);
      memory.writeU16(AVAIL + 4 + 2 * (availIdx & MASK), head);
      availIdx = (availIdx + 1) & 0xffff;
      memory.writeU16(AVAIL + 2, availIdx);
      const idx = memory.readU16(AVAIL + 2);
      check(idx !== lastAvail, "accessor avail idx");
      const h = memory.readU16(AVAIL + 4 + 2 * (lastAvail & MASK));
      lastAvail = (lastAvail + 1) & 0xffff;
      const dd = DESC + 16 * h;
      const addr = memory.readU64Number(dd);
      const len = memory.readU32(dd + 8);
      const flags = memory.readU16(dd + 12);
      memory.readU16(dd + 14);
      check(addr === BUF && flags === 2, "accessor descriptor");
      const e = USED + 4 + 8 * (usedIdx & MASK);
      memory.writeU32(e, h);
      memory.writeU32(e + 4, len);
      usedIdx = (usedIdx + 1) & 0xffff;
      memory.writeU16(USED + 2, usedIdx);
      const used = memory.readU16(USED + 2);
      check(used !== lastUsed, "accessor used idx");
      const r = USED + 4 + 8 * (lastUsed & MASK);
      const id = memory.readU32(r);
      const usedLen = memory.readU32(r + 4);
      lastUsed = (lastUsed + 1) & 0xffff;
      check(id === head && usedLen === 512, "accessor used element");
    },
  });
}

{
  // Each round trip is its own function literal: closures made from one
  // literal share its feedback, and TurboFan then specializes none of them
  // on their context (the queue pair they close over), which costs a
  // single queue's loop about a third of its speed. round_trip_cpu.ts runs
  // one queue per process for the same reason.
  const p = pair(256, false, false);
  const buf: BufferSegment[] = [{ addr: p.allocator.alloc(512), len: 512 }];
  const none: BufferSegment[] = [];
  let token = 0;
  Deno.bench({
    name: "SplitQueueDriver + SplitQueueDevice, event idx false",
    group: "round trip",
    fn() {
      p.driver.add(none, buf, token++);
      p.driver.kickPrepare();
      const chain = p.device.pop()!;
      p.device.push(chain.head, 512);
      p.device.needsInterrupt();
      const used = p.driver.getBuf();
      check(used !== null && used.len === 512, "1-descriptor chain, event idx false");
    },
  });
}

{
  const p = pair(256, true, false);
  const buf: BufferSegment[] = [{ addr: p.allocator.alloc(512), len: 512 }];
  const none: BufferSegment[] = [];
  let token = 0;
  Deno.bench({
    name: "SplitQueueDriver + SplitQueueDevice, event idx true",
    group: "round trip",
    fn() {
      p.driver.add(none, buf, token++);
      p.driver.kickPrepare();
      const chain = p.device.pop()!;
      p.device.push(chain.head, 512);
      p.device.needsInterrupt();
      const used = p.driver.getBuf();
      check(used !== null && used.len === 512, "1-descriptor chain, event idx true");
    },
  });
}

{
  // The same round trip through the classes with every part a forwarding
  // copy of the reference one: no fused fast path, every step called through
  // the parts table, as when a learner's parts run.
  const p = pair(256, false, false, true);
  const buf: BufferSegment[] = [{ addr: p.allocator.alloc(512), len: 512 }];
  const none: BufferSegment[] = [];
  let token = 0;
  Deno.bench({
    name: "the same through the parts table (forwarding parts, no fast path), event idx false",
    group: "round trip",
    fn() {
      p.driver.add(none, buf, token++);
      p.driver.kickPrepare();
      const chain = p.device.pop()!;
      p.device.push(chain.head, 512);
      p.device.needsInterrupt();
      const used = p.driver.getBuf();
      check(used !== null && used.len === 512, "forwarding parts: 1-descriptor chain");
    },
  });
}

{
  // The same round trip calling the reference parts on the two ring records
  // directly, without the classes: what the class layer costs.
  const p = pair(256, false, false);
  const drv = p.driver.ring;
  const dev = p.device.ring;
  const buf: BufferSegment[] = [{ addr: p.allocator.alloc(512), len: 512 }];
  const none: BufferSegment[] = [];
  const noTables = (table: number) => {
    throw new Error(`No indirect table expected, got ${table}`);
  };
  const detach = (head: number) => detachChain(drv, head, noTables);
  let token = 0;
  Deno.bench({
    name: "reference parts on the ring records, no classes, event idx false",
    group: "round trip",
    fn() {
      placeAvailEntry(drv, addChain(drv, none, buf, token++));
      const old = drv.availIdx;
      if (publishAvail(drv) > 0) needsKick(drv, old);
      check(availableCount(dev) === 1, "parts: available");
      const chain = walkChain(dev, availHead(dev))!;
      dev.inUse[chain.head] = 1;
      dev.writable[chain.head] = chain.writableLength;
      pushUsed(dev, chain.head, 512);
      dev.inUse[chain.head] = 0;
      needsInterrupt(dev);
      const used = getBuf(drv, detach);
      check(used !== null && used.len === 512, "parts: 1-descriptor chain");
    },
  });
}

// ---------------------------------------------------------------------------
// Batches and indirect tables

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
