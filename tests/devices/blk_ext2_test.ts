/**
 * End to end on a real file system image: a 64 MiB ext2 image made with
 * mkfs.ext2 at test time is read whole through the stack (driver ->
 * virtqueue -> MMIO -> device -> file) and compared by SHA-256; a few
 * sectors are written, flushed and read back while the rest of the image
 * stays intact; a read-only open refuses writes.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  BlockReadOnlyError,
  FileBlockBackend,
  VirtioBlockDevice,
  VirtioBlockDriver,
} from "../../devices/mod.ts";
import { buildStack, pattern, registration } from "./_stack.ts";

const IMAGE_BYTES = 64 * 1024 * 1024;

async function findMkfs(): Promise<string | null> {
  for (const candidate of ["/usr/sbin/mkfs.ext2", "/sbin/mkfs.ext2"]) {
    try {
      if ((await Deno.stat(candidate)).isFile) return candidate;
    } catch {
      // Not here.
    }
  }
  try {
    const { success, stdout } = await new Deno.Command("sh", {
      args: ["-c", "command -v mkfs.ext2"],
      stdout: "piped",
    }).output();
    if (success) return new TextDecoder().decode(stdout).trim() || null;
  } catch {
    // No shell.
  }
  return null;
}

function sha256(...parts: Uint8Array[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}

async function makeImage(mkfs: string, dir: string): Promise<string> {
  const root = join(dir, "root");
  await Deno.mkdir(join(root, "etc"), { recursive: true });
  await Deno.writeTextFile(join(root, "etc", "motd"), "Welcome to virtio-lab\n");
  await Deno.writeFile(join(root, "blob.bin"), pattern(3 * 1024 * 1024 + 123, 99));
  const image = join(dir, "disk.img");
  const { success, stderr } = await new Deno.Command(mkfs, {
    args: ["-q", "-F", "-d", root, image, "64M"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `mkfs.ext2 failed: ${new TextDecoder().decode(stderr)}`);
  return image;
}

async function stackFor(backend: FileBlockBackend) {
  const device = new VirtioBlockDevice(backend);
  const driver = new VirtioBlockDriver();
  const stack = await buildStack<VirtioBlockDriver>(device, registration(driver), {
    memorySize: 32 * 1024 * 1024,
  });
  return { device, ...stack };
}

const mkfs = await findMkfs();
const ci = Deno.env.get("CI");

if (mkfs === null && !ci) {
  console.log("mkfs.ext2 (e2fsprogs) not found and CI is unset: ext2 end-to-end test skipped");
}

Deno.test({
  name: "block end to end: a 64 MiB ext2 image through driver, virtqueue, MMIO, device and file",
  ignore: mkfs === null && !ci,
  fn: async (t) => {
    assert.ok(mkfs, "mkfs.ext2 (e2fsprogs) is required when CI is set");
    const dir = await Deno.makeTempDir({ prefix: "virtio-lab-ext2-" });
    try {
      const image = await makeImage(mkfs, dir);
      const original = await Deno.readFile(image);
      assert.equal(original.length, IMAGE_BYTES);

      await t.step("reading the whole image gives the file's SHA-256", async () => {
        const backend = await FileBlockBackend.open(image);
        const { driver, device, log, shutdown } = await stackFor(backend);
        assert.equal(driver.capacity, BigInt(IMAGE_BYTES / 512));
        const start = performance.now();
        const data = await driver.read(0, IMAGE_BYTES / 512);
        const seconds = (performance.now() - start) / 1000;
        assert.equal(sha256(data), sha256(original));
        // The ext2 superblock at byte 1024: s_magic 0xEF53 at offset 56.
        const superblock = new DataView(data.buffer, 1024, 1024);
        assert.equal(superblock.getUint16(56, true), 0xef53);
        assert.equal(
          superblock.getUint32(4, true),
          65536,
          "s_blocks_count: 64 MiB of 1 KiB blocks",
        );
        console.log(
          `read ${IMAGE_BYTES / 2 ** 20} MiB in ${seconds.toFixed(3)} s: ` +
            `${
              (IMAGE_BYTES / 1e6 / seconds).toFixed(1)
            } MB/s, ${device.stats.requests.in} requests, ` +
            `up to ${device.stats.maxInFlight} in flight`,
        );
        shutdown();
        await backend.close();
        assert.equal(log.entries.length, 0, log.format());
      });

      await t.step(
        "writes land, survive a flush, and leave the rest of the image intact",
        async () => {
          const backend = await FileBlockBackend.open(image);
          const { driver, log, shutdown } = await stackFor(backend);
          const writes = [
            { sector: 2000, data: pattern(8 * 512, 1) },
            { sector: 70000, data: pattern(3 * 512, 2) },
            { sector: IMAGE_BYTES / 512 - 1, data: pattern(512, 3) },
          ];
          await Promise.all(writes.map((w) => driver.write(w.sector, w.data)));
          await driver.flush();
          for (const w of writes) {
            assert.deepEqual(await driver.read(w.sector, w.data.length / 512), w.data);
          }
          shutdown();
          await backend.close();
          assert.equal(log.entries.length, 0, log.format());

          const after = await Deno.readFile(image);
          let at = 0;
          for (
            const w of writes.toSorted((a, b) => a.sector - b.sector)
          ) {
            const offset = w.sector * 512;
            assert.equal(sha256(after.subarray(at, offset)), sha256(original.subarray(at, offset)));
            assert.deepEqual(after.subarray(offset, offset + w.data.length), w.data);
            at = offset + w.data.length;
          }
          assert.equal(at, IMAGE_BYTES);
        },
      );

      await t.step("opened read-only, the image refuses writes and stays as it was", async () => {
        const before = await Deno.readFile(image);
        const backend = await FileBlockBackend.open(image, { readOnly: true });
        const { driver, shutdown } = await stackFor(backend);
        assert.equal(driver.readOnly, true);
        await assert.rejects(driver.write(0, new Uint8Array(512)), BlockReadOnlyError);
        assert.deepEqual(await driver.read(2, 2), before.subarray(1024, 2048));
        shutdown();
        await backend.close();
        assert.equal(sha256(await Deno.readFile(image)), sha256(before));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
