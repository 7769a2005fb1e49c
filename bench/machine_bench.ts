/**
 * Full-stack block reads: VirtioBlockDriver → split virtqueue → virtio-mmio
 * register file → VirtioBlockDevice → in-memory backend, and back through the
 * used ring and the interrupt line. Each group has a baseline: a plain
 * `Uint8Array.prototype.set` copy of the same number of bytes, the memory
 * bandwidth ceiling, so `deno bench` prints how many times slower the whole
 * virtio path is than one copy, measured in the same run.
 *
 * Run: deno task bench
 */

import { createMachine } from "../machine.ts";
import { MemoryBlockBackend } from "../devices/blk/backends.ts";

const DISK = 32 * 1024 * 1024;
const machine = await createMachine({ disk: new MemoryBlockBackend(DISK) });
const blk = machine.blk.driver!;
const sectors = Number(blk.capacity);

for (const size of [4096, 65536]) {
  const count = size / 512;
  const kib = size / 1024;
  const src = new Uint8Array(8 * size).fill(0xa5);
  const dst = new Uint8Array(8 * size);
  const dests = Array.from({ length: 8 }, () => new Uint8Array(size));
  let sector = 0;
  const next = () => (sector = (sector + count) % (sectors - count));

  Deno.bench({
    name: `Uint8Array.set copy of ${kib} KiB (ceiling)`,
    group: `one ${kib} KiB read`,
    baseline: true,
    fn() {
      dst.set(src.subarray(0, size));
    },
  });
  Deno.bench({
    name: `virtio-blk read of ${kib} KiB, full stack`,
    group: `one ${kib} KiB read`,
    async fn() {
      await blk.readInto(next(), dests[0]);
    },
  });

  Deno.bench({
    name: `Uint8Array.set copy of 8 × ${kib} KiB (ceiling)`,
    group: `8 × ${kib} KiB reads in flight`,
    baseline: true,
    fn() {
      dst.set(src);
    },
  });
  Deno.bench({
    name: `virtio-blk: 8 reads of ${kib} KiB in flight at once`,
    group: `8 × ${kib} KiB reads in flight`,
    async fn() {
      await Promise.all(dests.map((dest) => blk.readInto(next(), dest)));
    },
  });
}

globalThis.addEventListener("unload", () => void machine.close());
