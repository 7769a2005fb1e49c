/**
 * The split ring's 1-descriptor round trip and its inline `DataView`
 * baseline (the "round trip" group of `virtqueue_bench.ts`), timed in
 * process CPU time rather than wall time: the minimum over 80 runs of
 * 100,000 round trips, which a machine shared with other work disturbs far
 * less than `deno bench`'s averages. It is a tool for finding where the time
 * goes, not the benchmark the targets are judged by.
 *
 * Run `deno run bench/round_trip_cpu.ts` (add `--event-idx` after the file
 * for a queue with `VIRTIO_F_EVENT_IDX`, `--parts` for forwarding copies of
 * the reference parts, which turn the fused fast paths off; one queue per
 * process, so that the variants do not share type feedback), and with
 * `--v8-flags=--max-inlined-bytecode-size-cumulative=6000,--max-inlined-bytecode-size=3000`
 * to see what the same code costs when TurboFan may inline all of it
 * (docs/ARCHITECTURE.md, "Performance"). Process CPU time includes V8's
 * helper threads (GC, compilers); the ring allocates almost nothing, so
 * here that is small.
 *
 * @module
 */

import process from "node:process";
import { GuestMemory } from "../memory/guest_memory.ts";
import { GuestAllocator } from "../memory/allocator.ts";
import { ConformanceLog } from "../conformance/log.ts";
import { SplitQueueDriver } from "../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../virtqueue/device_queue.ts";
import type { BufferSegment } from "../virtqueue/types.ts";
import {
  forwardingParts,
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
} from "../virtqueue/parts.ts";

/** Process CPU time (user + system), in milliseconds. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Fails loudly if a round trip went wrong. */
function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`Round trip failed: ${what}`);
}

/** The minimum and median CPU time of one call of `fn`, in nanoseconds. */
function measure(fn: () => void): { min: number; median: number } {
  const perRun = 100_000;
  for (let i = 0; i < 3_000_000; i++) fn(); // warm up: optimized code, steady state
  const runs: number[] = [];
  for (let r = 0; r < 80; r++) {
    const start = cpuMs();
    for (let i = 0; i < perRun; i++) fn();
    runs.push(((cpuMs() - start) * 1e6) / perRun);
  }
  runs.sort((a, b) => a - b);
  return { min: runs[0], median: runs[runs.length >> 1] };
}

// The baseline: the ring's memory traffic and nothing else, on one DataView
// (the same statements as virtqueue_bench.ts's baseline).
const SIZE = 256;
const MASK = SIZE - 1;
const DESC = 0x0000;
const AVAIL = 0x1000;
const USED = 0x2000;
const BUF = 0x3000;
const view = new DataView(new ArrayBuffer(0x4000));
let availIdx = 0;
let lastUsed = 0;
let lastAvail = 0;
let usedIdx = 0;
function inline(): void {
  const head = availIdx & MASK;
  const d = DESC + 16 * head;
  view.setUint32(d, BUF, true);
  view.setUint32(d + 4, 0, true);
  view.setUint32(d + 8, 512, true);
  view.setUint16(d + 12, 2, true);
  view.setUint16(d + 14, 0, true);
  view.setUint16(AVAIL + 4 + 2 * (availIdx & MASK), head, true);
  availIdx = (availIdx + 1) & 0xffff;
  view.setUint16(AVAIL + 2, availIdx, true);
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
  const used = view.getUint16(USED + 2, true);
  check(used !== lastUsed, "inline used idx");
  const r = USED + 4 + 8 * (lastUsed & MASK);
  const id = view.getUint32(r, true);
  const usedLen = view.getUint32(r + 4, true);
  lastUsed = (lastUsed + 1) & 0xffff;
  check(id === head && usedLen === 512, "inline used element");
}

/** The round trip through the classes and the reference parts, as the bench does it. */
function roundTrip(eventIdx: boolean, viaParts: boolean): () => void {
  const memory = new GuestMemory(4 << 20);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size: SIZE, eventIdx, indirect: false };
  const driver = SplitQueueDriver.create<number>({
    ...common,
    allocator,
    reporter: log.scoped("queue 0"),
    parts: viaParts ? forwardingParts(REFERENCE_SPLIT_RING_DRIVER_PARTS) : undefined,
  });
  const device = new SplitQueueDevice(
    {
      ...common,
      ...driver.addresses,
      reporter: log.scoped("queue 0"),
    },
    undefined,
    { parts: viaParts ? forwardingParts(REFERENCE_SPLIT_RING_DEVICE_PARTS) : undefined },
  );
  const buf: BufferSegment[] = [{ addr: allocator.alloc(512), len: 512 }];
  const none: BufferSegment[] = [];
  let token = 0;
  return () => {
    driver.add(none, buf, token++);
    driver.kickPrepare();
    const chain = device.pop()!;
    device.push(chain.head, 512);
    device.needsInterrupt();
    const used = driver.getBuf();
    check(used !== null && used.len === 512, "1-descriptor chain");
  };
}

const eventIdx = Deno.args.includes("--event-idx");
const viaParts = Deno.args.includes("--parts");
const baseline = measure(inline);
const t = measure(roundTrip(eventIdx, viaParts));
console.log(`inline loop on one DataView: min ${baseline.min.toFixed(1)} ns`);
console.log(
  `SplitQueueDriver + SplitQueueDevice${viaParts ? " (forwarding parts)" : ""}, ` +
    `event idx ${eventIdx}: min ${t.min.toFixed(1)} ns, ` +
    `median ${t.median.toFixed(1)} ns, ratio (min) ${(baseline.min / t.min).toFixed(2)}`,
);
