// Tests for `--packed` on the lab command: `lab boot --packed` negotiates
// VIRTIO_F_RING_PACKED on both devices, and `lab disk read --sha256 --packed`
// of a 64 MiB mkfs.ext2 image equals the file's own digest.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { findMkfsExt2, lab, makeExt2Image, requireTool } from "./_run.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

Deno.test("boot --packed: devices shows VIRTIO_F_RING_PACKED negotiated on both devices", async () => {
  const result = await lab(["boot", "--packed"], { stdin: "devices\ndisk read 2\nlog\n" });
  assert.equal(result.code, 0, result.stderr);
  const out = result.stdout;
  // Each window's negotiated features, wrapped to the console's width.
  const features = (node: string) => out.split(`  ${node}: `)[1]?.split(/\r?\n {2}(?! )/)[0] ?? "";
  assert.match(features("virtio_block@1e000"), /VIRTIO_F_RING_PACKED/);
  assert.match(features("virtio_console@1e200"), /VIRTIO_F_RING_PACKED/);
  assert.doesNotMatch(
    features("virtio_block@1e000"),
    /VIRTIO_CONSOLE_F_/,
    "one window's list only",
  );
  assert.match(out, /00000400 {2}48 65 6c 6c 6f/); // "Hello" in sector 2, read over the packed ring
  assert.match(out, /no violations/);
});

Deno.test({
  name: "disk read --sha256 --packed of a 64 MiB mkfs.ext2 image equals the file's digest",
  ...requireTool(findMkfsExt2() !== null, "mkfs.ext2 (e2fsprogs)"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const img = `${dir}/disk.img`;
      await makeExt2Image(img, 64);
      const digest = sha256(await Deno.readFile(img));
      const read = await lab(["disk", "read", img, "--sha256", "--packed"]);
      assert.equal(read.code, 0, read.stderr);
      assert.equal(read.stdout.trim(), `${digest}  ${img}`);
      assert.match(read.stderr, /packed virtqueue \(VIRTIO_F_RING_PACKED negotiated\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
