// Tests for linux/cpio.ts: newc headers, padding, round trips, and (when GNU
// cpio is installed) that cpio itself lists the archive.

import assert from "node:assert/strict";
import { buildCpio, parseCpio, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from "../../linux/cpio.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("a newc header is 110 ASCII bytes of hex fields, name and data 4-byte aligned", () => {
  const archive = buildCpio([{
    kind: "file",
    path: "init",
    data: bytes("#!/bin/sh\n"),
    mode: 0o755,
  }]);
  const head = new TextDecoder().decode(archive.subarray(0, 110));
  assert.match(head, /^070701[0-9A-F]{104}$/);
  assert.equal(parseInt(head.slice(14, 22), 16), S_IFREG | 0o755); // c_mode
  assert.equal(parseInt(head.slice(54, 62), 16), 10); // c_filesize
  assert.equal(parseInt(head.slice(94, 102), 16), 5); // c_namesize: "init\0"
  // 110 + 5 = 115, padded to 116: the data starts there.
  assert.equal(new TextDecoder().decode(archive.subarray(116, 126)), "#!/bin/sh\n");
  assert.equal(archive.length % 512, 0);
});

Deno.test("every kind of entry reads back, in order, ending at the trailer", () => {
  const data = new Uint8Array(1001).map((_, i) => i & 0xff);
  const archive = buildCpio([
    { kind: "dir", path: "bin" },
    { kind: "file", path: "bin/busybox", data, mode: 0o755 },
    { kind: "symlink", path: "bin/sh", target: "busybox" },
    { kind: "dir", path: "dev", mode: 0o700 },
    { kind: "chardev", path: "dev/console", major: 5, minor: 1 },
  ]);
  const entries = parseCpio(archive);
  assert.deepEqual(entries.map((e) => e.path), [
    "bin",
    "bin/busybox",
    "bin/sh",
    "dev",
    "dev/console",
  ]);
  assert.equal(entries[0].mode, S_IFDIR | 0o755);
  assert.deepEqual(entries[1].data, data);
  assert.equal(entries[2].mode, S_IFLNK | 0o777);
  assert.equal(new TextDecoder().decode(entries[2].data), "busybox");
  assert.equal(entries[3].mode, S_IFDIR | 0o700);
  assert.equal(entries[4].mode, S_IFCHR | 0o600);
  assert.deepEqual(entries[4].rdev, [5, 1]);
});

Deno.test("bad paths are refused", () => {
  assert.throws(() => buildCpio([{ kind: "dir", path: "/abs" }]), RangeError);
  assert.throws(() => buildCpio([{ kind: "dir", path: "" }]), RangeError);
  assert.throws(() => buildCpio([{ kind: "dir", path: "a" }, { kind: "dir", path: "a" }]), /twice/);
});

Deno.test("an archive cut short is reported, not read past its end", () => {
  const archive = buildCpio([{ kind: "file", path: "f", data: new Uint8Array(600) }]);
  assert.throws(() => parseCpio(archive.subarray(0, 300)), /runs past the end/);
});

async function has(command: string): Promise<boolean> {
  try {
    await new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}

const cpio = await has("cpio");
if (!cpio) {
  console.error("tests/linux/cpio_test.ts: GNU cpio not installed: skipping the cpio -t check");
}

Deno.test({
  name: "GNU cpio lists the archive",
  ignore: !cpio,
  fn: async () => {
    const archive = buildCpio([
      { kind: "dir", path: "bin" },
      { kind: "file", path: "bin/hello", data: bytes("hi\n") },
      { kind: "symlink", path: "bin/link", target: "hello" },
    ]);
    const child = new Deno.Command("cpio", {
      args: ["-t", "-H", "newc"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(archive);
    await writer.close();
    const out = await child.output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.deepEqual(new TextDecoder().decode(out.stdout).trim().split("\n"), [
      "bin",
      "bin/hello",
      "bin/link",
    ]);
  },
});
