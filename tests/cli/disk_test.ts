import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  assertOneLineError,
  findMkfsExt2,
  lab,
  makeExt2Image,
  REPO,
  requireTool,
  startLab,
} from "./_run.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const mkfs = findMkfsExt2() !== null;

Deno.test({
  name:
    "disk read --sha256 of a mkfs.ext2 image matches the file's digest; disk info reports its capacity",
  ...requireTool(mkfs, "mkfs.ext2 (e2fsprogs)"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const img = `${dir}/disk.img`;
      await makeExt2Image(img, 64);
      const digest = sha256(await Deno.readFile(img));
      const read = await lab(["disk", "read", img, "--sha256"]);
      assert.equal(read.code, 0, read.stderr);
      assert.equal(read.stdout.trim(), `${digest}  ${img}`);
      assert.match(read.stderr, /read 64 MiB through virtio-blk in [0-9.]+ s \([0-9.]+ MiB\/s\)/);
      // The same bytes through legacy (Version 1) windows.
      const legacy = await lab(["disk", "read", img, "--sha256", "--legacy"]);
      assert.equal(legacy.code, 0, legacy.stderr);
      assert.equal(legacy.stdout.trim(), `${digest}  ${img}`);
      const info = await lab(["disk", "info", img]);
      assert.equal(info.code, 0, info.stderr);
      assert.match(
        info.stdout,
        /capacity: +131072 sectors of 512 bytes \(67108864 bytes, 64 MiB\)/,
      );
      // The ext2 superblock sits at byte 1024: sector 2, magic 0xef53 at offset 0x38.
      const sb = await lab(["disk", "read", img, "--sector", "2"]);
      assert.match(sb.stdout, /^00000430 {2}.* 53 ef /m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "disk write then read shows the new bytes, flushes, and leaves the rest of the file intact",
  ...requireTool(mkfs, "mkfs.ext2 (e2fsprogs)"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const img = `${dir}/disk.img`;
      await makeExt2Image(img, 8);
      const before = await Deno.readFile(img);
      const w = await lab(["disk", "write", img, "--sector", "5000", "--hex", "de:ad:be:ef 01 02"]);
      assert.equal(w.code, 0, w.stderr);
      assert.match(w.stdout, /wrote 6 byte\(s\) at sector 5000 .* and flushed/);
      const r = await lab(["disk", "read", img, "--sector", "5000"]);
      assert.match(r.stdout, /^00271000 {2}de ad be ef 01 02 /);
      const after = await Deno.readFile(img);
      const at = 5000 * 512;
      assert.deepEqual(after.subarray(at, at + 6), Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 1, 2));
      assert.equal(sha256(after.subarray(0, at)), sha256(before.subarray(0, at)));
      assert.equal(sha256(after.subarray(at + 6)), sha256(before.subarray(at + 6)));
      // --from a file, spanning two sectors.
      const src = `${dir}/payload`;
      await Deno.writeFile(src, new Uint8Array(600).fill(0x5a));
      const w2 = await lab(["disk", "write", img, "--sector", "10", "--from", src]);
      assert.equal(w2.code, 0, w2.stderr);
      const again = await Deno.readFile(img);
      assert.ok(again.subarray(5120, 5120 + 600).every((b) => b === 0x5a));
      assert.deepEqual(again.subarray(5720, 6144), before.subarray(5720, 6144));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("bad disk input ends in one line, a non-zero exit and an unchanged image", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const img = `${dir}/disk.img`;
    const content = new Uint8Array(8 * 512).map((_, i) => i % 251);
    await Deno.writeFile(img, content);
    await Deno.writeFile(`${dir}/empty.img`, new Uint8Array(0));
    const cases: [string[], RegExp][] = [
      [["disk", "info", `${dir}/missing.img`], /does not exist/],
      [["disk", "info", dir], /is a directory/],
      [["disk", "info", `${dir}/empty.img`], /is empty \(0 bytes\)/],
      [["disk", "read", img, "--sector", "8"], /past the end .*capacity 8 sectors/],
      [["disk", "read", img, "--sector", "7", "--count", "2"], /sectors 7\.\.8 are past the end/],
      [["disk", "read", img, "--sector", "-1"], /--sector must be a non-negative sector number/],
      [["disk", "read", img, "--count", "0"], /--count must be a positive number/],
      [["disk", "write", img, "--sector", "8", "--hex", "00"], /past the end/],
      [["disk", "write", img, "--sector", "1", "--hex", "abc"], /even number of hex digits/],
      [["disk", "write", img, "--sector", "1"], /exactly one of --hex HEX or --from PATH/],
      [
        ["disk", "write", img, "--sector", "1", "--from", `${dir}/none`],
        /--from file .* does not exist/,
      ],
      [
        ["disk", "write", img, "--sector", "1", "--from", `${dir}/empty.img`],
        /is empty: nothing to write/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await lab(args);
      const line = assertOneLineError(result);
      assert.match(line, /^lab: /, args.join(" "));
      assert.match(line, message, args.join(" "));
    }
    assert.deepEqual(await Deno.readFile(img), content, "the image is unchanged");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an image whose size is not a multiple of 512 is used up to its last whole sector, with a note", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const img = `${dir}/odd.img`;
    await Deno.writeFile(img, new Uint8Array(1000).fill(7));
    const info = await lab(["disk", "info", img]);
    assert.equal(info.code, 0);
    assert.match(info.stdout, /capacity: +1 sectors/);
    assert.match(
      info.stderr,
      /odd\.img is 1000 bytes, not a multiple of 512: .* last 488 byte\(s\) are not part of it/,
    );
    const w = await lab(["disk", "write", img, "--sector", "0", "--hex", "ff"]);
    assert.equal(w.code, 0);
    const after = await Deno.readFile(img);
    assert.equal(after.length, 1000);
    assert.equal(after[0], 0xff);
    assert.ok(after.subarray(512).every((b) => b === 7), "the tail was never written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writing without write permission is refused before anything is written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const img = `${dir}/ro.img`;
    const content = new Uint8Array(4096).fill(3);
    await Deno.writeFile(img, content);
    // Deny writes the way the OS would for a read-only file, even when the tests run as root:
    // run the CLI with write access to nothing.
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        "cli/main.ts",
        "disk",
        "write",
        img,
        "--sector",
        "0",
        "--hex",
        "00",
      ],
      cwd: new URL("../../", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const line = assertOneLineError({
      code: child.code,
      stdout: "",
      stderr: new TextDecoder().decode(child.stderr),
    });
    assert.match(line, /Permission denied opening disk image .* for reading and writing/);
    assert.deepEqual(await Deno.readFile(img), content);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "disk read --sha256 --mine runs the stack on the learner's parts, and refuses with none",
  ...requireTool(mkfs, "mkfs.ext2 (e2fsprogs)"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const env = { VIRTIO_LAB_WORKSPACE: `${dir}/workspace` };
      const img = `${dir}/disk.img`;
      await makeExt2Image(img, 8);
      const digest = sha256(await Deno.readFile(img));
      const none = await lab(["disk", "read", img, "--sha256", "--mine"], { env });
      assert.match(assertOneLineError(none), /no lesson passes yet/);
      // Lesson 1 passes on a solution that re-exports the library's own parts.
      await lab(["status"], { env });
      await Deno.writeTextFile(
        `${dir}/workspace/01-mmio-window/exercise.ts`,
        `export { checkRegisterAccess, probeWindow, readIdentification } from "${REPO}lessons/01-mmio-window/reference.ts";\n`,
      );
      const check = await lab(["check", "1"], { env });
      assert.equal(check.code, 0, check.stdout + check.stderr);
      const read = await lab(["disk", "read", img, "--sha256", "--mine"], { env });
      assert.equal(read.code, 0, read.stderr);
      assert.equal(read.stdout.trim(), `${digest}  ${img}`);
      assert.match(read.stderr, /transport\.driver +1\/\d+ +probeWindow \(lesson 1\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("an image in use by a running machine is refused to a second writer, in one line, unchanged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const img = `${dir}/disk.img`;
    const content = new Uint8Array(16 * 512).map((_, i) => i % 253);
    await Deno.writeFile(img, content);
    const vm = startLab(["boot", "--disk", img]);
    try {
      await vm.waitFor(/guest\$ /);
      for (
        const args of [
          ["disk", "write", img, "--sector", "1", "--hex", "00ff"],
          ["disk", "read", img, "--sector", "1"],
          ["boot", "--disk", img],
        ]
      ) {
        const line = assertOneLineError(await lab(args, { stdin: "exit\n" }));
        assert.match(line, /^lab: Disk image .* is in use by another process/, args.join(" "));
      }
    } finally {
      await vm.type("exit");
      const end = await vm.finish();
      assert.equal(end.code, 0, end.stderr);
    }
    assert.deepEqual(await Deno.readFile(img), content, "the image is unchanged");
    // Once the machine is off, the image is free again.
    const write = await lab(["disk", "write", img, "--sector", "1", "--hex", "00ff"]);
    assert.equal(write.code, 0, write.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("disk write --from reads only what fits, from a regular file or standard input", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const img = `${dir}/disk.img`;
    const content = new Uint8Array(8 * 512).map((_, i) => i % 241);
    await Deno.writeFile(img, content);
    await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(2 * 512 + 1).fill(9));
    await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    const cases: [string[], RegExp][] = [
      [["--from", "/dev/zero"], /--from \/dev\/zero is not a regular file/],
      [["--from", `${dir}/fifo`], /is not a regular file \(a device, FIFO or socket\)/],
      [["--from", `${dir}/big.bin`], /holds more than the 1024 byte\(s\) from the sector/],
    ];
    for (const [extra, message] of cases) {
      const args = ["disk", "write", img, "--sector", "6", ...extra];
      assert.match(assertOneLineError(await lab(args)), message, extra.join(" "));
    }
    assert.deepEqual(await Deno.readFile(img), content, "the image is unchanged");
    const piped = await lab(["disk", "write", img, "--sector", "6", "--from", "-"], {
      stdin: "from a pipe",
    });
    assert.equal(piped.code, 0, piped.stderr);
    const after = await Deno.readFile(img);
    assert.equal(new TextDecoder().decode(after.subarray(6 * 512, 6 * 512 + 11)), "from a pipe");
    assert.deepEqual(after.subarray(6 * 512 + 11), content.subarray(6 * 512 + 11));
    assert.deepEqual(after.subarray(0, 6 * 512), content.subarray(0, 6 * 512));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("disk discard punches a hole and disk zero zeroes, changing exactly their sectors; info shows the limits", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const img = `${dir}/disk.img`;
    const content = crypto.getRandomValues(new Uint8Array(65536)); // getRandomValues caps at 64 KiB
    const image = new Uint8Array(4 * 1024 * 1024);
    for (let at = 0; at < image.length; at += content.length) image.set(content, at);
    await Deno.writeFile(img, image);
    const blocks = async () => (await Deno.stat(img)).blocks! * 512;
    const before = await blocks();
    const d = await lab(["disk", "discard", img, "--sector", "2048", "--count", "2048"]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^discarded 2048 sector\(s\) at sector 2048 of .* in 1 request\(s\)/);
    assert.match(d.stdout, /allocated on disk: 4 MiB before, 3 MiB after: 1 MiB deallocated/);
    assert.ok(before - await blocks() >= 1024 * 1024, "the file system got the blocks back");
    const z = await lab(["disk", "zero", img, "--sector", "5", "--count", "3"]);
    assert.equal(z.code, 0, z.stderr);
    assert.match(
      z.stdout,
      /^zeroed 3 sector\(s\) at sector 5 .*\nallocated on disk: .*nothing deallocated/,
    );
    const u = await lab(["disk", "zero", img, "--sector", "6144", "--count", "2048", "--unmap"]);
    assert.match(u.stdout, /zeroed \(unmap allowed\) 2048 sector\(s\).*\n.*1 MiB deallocated/);
    const expected = image.slice();
    expected.fill(0, 2048 * 512, 4096 * 512);
    expected.fill(0, 5 * 512, 8 * 512);
    expected.fill(0, 6144 * 512, 8192 * 512);
    const after = await Deno.readFile(img);
    assert.equal(after.length, image.length, "the image keeps its size");
    assert.equal(sha256(after), sha256(expected), "exactly those sectors changed, to zeroes");
    const info = await lab(["disk", "info", img]);
    assert.match(info.stdout, /^discard: +not offered on a read-only disk/m);
    const past = await lab(["disk", "discard", img, "--sector", "8190", "--count", "3"]);
    assert.match(assertOneLineError(past), /past the end .*nothing was read or written/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
