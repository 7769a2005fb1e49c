/**
 * Packed virtqueue round trips (virtio v1.2 §2.8) beside the split ring's
 * (§2.7), measured in the same run so `deno bench` prints the ratio: for
 * each workload the split ring is the baseline and the packed ring the
 * contender, both the reference classes with every check on.
 *
 * A round trip: driver `add` + `kickPrepare`, device `pop` + `push` +
 * `needsInterrupt`, driver `getBuf`. Workloads: one 1-element buffer; a
 * 3-element request (header, data, status: a block read's shape); the same
 * through an indirect table; a burst of 32 buffers made available, then all
 * used in reverse order (out-of-order completion), then reaped. Then the full
 * stack: 64 KiB block reads through the machine on split and on packed rings.
 *
 * Run: `deno bench --allow-read bench/packed_ring_bench.ts`
 *
 * @module
 */

import { GuestMemory } from "../memory/guest_memory.ts";
import { GuestAllocator } from "../memory/allocator.ts";
import { ConformanceLog } from "../conformance/log.ts";
import { SplitQueueDriver } from "../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../virtqueue/device_queue.ts";
import { PackedQueueDriver } from "../virtqueue/packed/driver_queue.ts";
import { PackedQueueDevice } from "../virtqueue/packed/device_queue.ts";
import type { BufferSegment, DeviceQueue, DriverQueue } from "../virtqueue/types.ts";
import { createMachine } from "../machine.ts";
import { MemoryBlockBackend } from "../devices/blk/backends.ts";

interface Pair {
  driver: DriverQueue<number>;
  device: DeviceQueue;
  allocator: GuestAllocator;
}

function pair(kind: "split" | "packed", size: number, indirect: boolean): Pair {
  const memory = new GuestMemory(4 << 20);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size, eventIdx: true, indirect };
  const reporter = log.scoped("bench queue 0");
  if (kind === "split") {
    const driver = SplitQueueDriver.create<number>({ ...common, allocator, reporter });
    const device = new SplitQueueDevice({ ...common, ...driver.addresses, reporter });
    return { driver, device, allocator };
  }
  const driver = PackedQueueDriver.create<number>({ ...common, allocator, reporter });
  const device = new PackedQueueDevice({ ...common, ...driver.addresses, reporter });
  return { driver, device, allocator };
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`Bench round trip failed: ${what}`);
}

/** One round trip of one buffer; `len` written back. */
function roundTrip(
  p: Pair,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  len: number,
): void {
  p.driver.add(readable, writable, 1);
  p.driver.kickPrepare();
  const chain = p.device.pop();
  check(chain !== null, "pop");
  p.device.push(chain!.head, len);
  p.device.needsInterrupt();
  const used = p.driver.getBuf();
  check(used !== null && used.len === len, "getBuf");
}

for (const kind of ["split", "packed"] as const) {
  const one = pair(kind, 256, false);
  const buf = one.allocator.alloc(512);
  Deno.bench({
    name: `${kind}: 1-element buffer`,
    group: "round trip, 1 element",
    baseline: kind === "split",
    fn() {
      roundTrip(one, [], [{ addr: buf, len: 512 }], 512);
    },
  });

  for (const indirect of [false, true]) {
    const p = pair(kind, 256, indirect);
    const header = p.allocator.alloc(16);
    const data = p.allocator.alloc(4096);
    const status = p.allocator.alloc(1);
    const readable = [{ addr: header, len: 16 }];
    const writable = [{ addr: data, len: 4096 }, { addr: status, len: 1 }];
    Deno.bench({
      name: `${kind}: header + 4 KiB + status${indirect ? ", indirect table" : ""}`,
      group: `round trip, 3 elements${indirect ? " indirect" : ""}`,
      baseline: kind === "split",
      fn() {
        roundTrip(p, readable, writable, 4097);
      },
    });
  }

  const burst = pair(kind, 256, false);
  const bufs = Array.from({ length: 32 }, () => [{ addr: burst.allocator.alloc(64), len: 64 }]);
  const heads: number[] = [];
  Deno.bench({
    name: `${kind}: 32 buffers, used in reverse order`,
    group: "burst of 32, out of order",
    baseline: kind === "split",
    fn() {
      for (let i = 0; i < 32; i++) burst.driver.add([], bufs[i], i);
      burst.driver.kickPrepare();
      heads.length = 0;
      for (let c = burst.device.pop(); c !== null; c = burst.device.pop()) heads.push(c.head);
      check(heads.length === 32, "burst pop");
      for (let i = 31; i >= 0; i--) burst.device.push(heads[i], 64);
      burst.device.needsInterrupt();
      let n = 0;
      while (burst.driver.getBuf() !== null) n++;
      check(n === 32, "burst reap");
    },
  });
}

// Full stack: 64 KiB block reads into guest memory, split then packed.
const DISK_BYTES = 16 * 1024 * 1024;
for (const packed of [false, true]) {
  const disk = new MemoryBlockBackend(DISK_BYTES);
  const machine = await createMachine({ disk, packed });
  const blk = machine.blk.driver!;
  const size = 65536;
  const dest = machine.memory.bytes(machine.allocator.alloc(size, 4096), size);
  let sector = 0;
  Deno.bench({
    name: `${packed ? "packed" : "split"}: 64 KiB block read through the machine`,
    group: "machine, 64 KiB reads",
    baseline: !packed,
    async fn() {
      sector = (sector + 128) % (DISK_BYTES / 512 - 128);
      await blk.readInto(sector, dest);
    },
  });
}
