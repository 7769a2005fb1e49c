/**
 * Child process for `blk_crash_test.ts`: writes sector after sector of a
 * disk image through the whole stack (virtio-blk driver, ring, MMIO, device,
 * file backend) and prints `ok N` once the write of sector N has completed,
 * until it is killed.
 *
 * Usage: `_crash_writer_child.ts <image> <sectors>`.
 */

import { FileBlockBackend } from "../../devices/blk/backends.ts";
import { createMachine } from "../../machine.ts";
import { sectorPattern } from "./_crash_pattern.ts";

const [path, count] = Deno.args;
const disk = await FileBlockBackend.open(path);
const machine = await createMachine({ disk });
const driver = machine.blk.driver!;
const encoder = new TextEncoder();
for (let round = 1;; round++) {
  for (let sector = 0; sector < Number(count); sector++) {
    await driver.write(sector, sectorPattern(sector, round));
    Deno.stdout.writeSync(encoder.encode(`ok ${sector} ${round}\n`));
  }
}
