/**
 * Full-stack block reads: VirtioBlockDriver → split virtqueue → virtio-mmio
 * register file → VirtioBlockDevice → in-memory backend, and back through the
 * used ring and the interrupt line.
 *
 * Each group has an honest baseline, measured in the same run: a plain
 * `Uint8Array.prototype.set` of the same bytes, from the same region of the
 * disk's backing buffer, advancing through the disk the way the reads do,
 * into the same destination. That one copy is the floor: a read must move the
 * data once from the backend into memory, and everything else the virtio path
 * does is overhead on top of it.
 *
 * Two destinations:
 *
 * - guest memory (`memory.bytes(addr, n)` of a region allocated in guest
 *   RAM, as a guest kernel reads into its page cache): the driver hands the
 *   buffer to the device as it is, so the backend's copy is the only one;
 * - a host `Uint8Array`: the device fills the slot's bounce buffer in guest
 *   memory and the driver copies it out, two copies.
 *
 * Run: `deno bench --allow-read --allow-write --allow-env bench/machine_bench.ts`
 * (or `deno task bench`). Ratios: the "faster than" line of each group's
 * summary; 2.0x slower means the full stack reaches 50% of the copy.
 *
 * With `--v8-flags=--expose-gc,--min-semi-space-size=64,--max-semi-space-size=64`
 * the file first prints the guest-allocator calls and the JavaScript heap
 * bytes per request for each kind of read (the latter across every layer:
 * ring, transport, bus, driver and device; the large young generation keeps
 * a scavenge from running in the middle and hiding allocations).
 *
 * @module
 */

import { createMachine } from "../machine.ts";
import { MemoryBlockBackend } from "../devices/blk/backends.ts";

const DISK_BYTES = 32 * 1024 * 1024;
const disk = new MemoryBlockBackend(DISK_BYTES);
disk.data.forEach((_, i, data) => (data[i] = (i * 2654435761) >>> 24));
const machine = await createMachine({ disk });
const blk = machine.blk.driver!;
const sectors = Number(blk.capacity);

/** A cursor over the disk that advances `size` bytes per step and wraps, like a sequential reader. */
function cursor(size: number): () => number {
  const count = size / 512;
  let sector = 0;
  return () => (sector = (sector + count) % (sectors - count));
}

/** A destination in guest RAM, as a guest kernel's page would be. */
function guestBuffer(size: number): Uint8Array {
  return machine.memory.bytes(machine.allocator.alloc(size, 4096), size);
}

await reportAllocations();

for (const size of [4096, 65536]) {
  const kib = size / 1024;
  for (const where of ["guest memory", "a host buffer"] as const) {
    const dest = where === "guest memory" ? guestBuffer(size) : new Uint8Array(size);
    const copyNext = cursor(size);
    const readNext = cursor(size);
    const group = `one ${kib} KiB read into ${where}`;
    Deno.bench({
      name: `Uint8Array.set of the same ${kib} KiB of the disk (floor)`,
      group,
      baseline: true,
      fn() {
        const at = copyNext() * 512;
        dest.set(disk.data.subarray(at, at + size));
      },
    });
    Deno.bench({
      name: `virtio-blk readInto ${kib} KiB, full stack`,
      group,
      async fn() {
        await blk.readInto(readNext(), dest);
      },
    });
  }

  const dests = Array.from({ length: 8 }, () => guestBuffer(size));
  const copyNext = cursor(size);
  const readNext = cursor(size);
  const group = `8 × ${kib} KiB reads in flight, into guest memory`;
  Deno.bench({
    name: `Uint8Array.set of the same 8 × ${kib} KiB (floor)`,
    group,
    baseline: true,
    fn() {
      for (const dest of dests) {
        const at = copyNext() * 512;
        dest.set(disk.data.subarray(at, at + size));
      }
    },
  });
  Deno.bench({
    name: `virtio-blk: 8 readInto of ${kib} KiB in flight at once`,
    group,
    async fn() {
      await Promise.all(dests.map((dest) => blk.readInto(readNext(), dest)));
    },
  });
}

/**
 * Prints guest-allocator calls and heap bytes per request, when `gc` is
 * exposed (`--v8-flags=--expose-gc`): the heap figure is the growth of the
 * heap over 2000 reads after a full collection, divided by 2000, which is
 * the bytes allocated as long as no scavenge runs in between (give the young
 * generation room: `--min-semi-space-size=64,--max-semi-space-size=64`).
 */
async function reportAllocations(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return;
  const allocator = machine.allocator;
  const calls = { alloc: 0, free: 0 };
  const alloc = allocator.alloc.bind(allocator);
  const free = allocator.free.bind(allocator);
  allocator.alloc = (...args) => (calls.alloc++, alloc(...args));
  allocator.free = (address) => (calls.free++, free(address));
  const n = 2000;
  for (const size of [4096, 65536]) {
    for (const where of ["guest memory", "a host buffer"]) {
      const dest = where === "guest memory" ? guestBuffer(size) : new Uint8Array(size);
      const next = cursor(size);
      for (let i = 0; i < 200; i++) await blk.readInto(next(), dest);
      calls.alloc = calls.free = 0;
      gc();
      const before = Deno.memoryUsage().heapUsed;
      for (let i = 0; i < n; i++) await blk.readInto(next(), dest);
      const bytes = (Deno.memoryUsage().heapUsed - before) / n;
      console.log(
        `${size / 1024} KiB readInto ${where}: ${calls.alloc / n} guest allocations and ` +
          `${calls.free / n} frees per request, ${bytes.toFixed(0)} heap bytes per request`,
      );
    }
  }
  allocator.alloc = alloc;
  allocator.free = free;
}

globalThis.addEventListener("unload", () => void machine.close());
