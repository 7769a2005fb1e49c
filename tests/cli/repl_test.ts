/**
 * `lab repl` as a learner uses it: the prelude binds the machine, and the
 * values typed at the prompt print readably (byte arrays as hex dumps, the
 * devices with their windows in hex, hints rendered from Markdown with no
 * `undefined` after them, a summary of the parts).
 */

import assert from "node:assert/strict";
import { lab } from "./_run.ts";
import {
  formatBytes,
  formatParts,
  hex,
  showByteArraysAsHexDumps,
} from "../../cli/lesson/repl_inspect.ts";
import { PARTS } from "../../parts.ts";
import { createMachine } from "../../machine.ts";
import { probeWindow } from "../../transport/driver_init.ts";

Deno.test("lab repl: byte arrays, devices, hints and parts print readably", async () => {
  const workspace = await Deno.makeTempDir({ prefix: "virtio-lab-repl-" });
  try {
    const typed = [
      "await machine.blk.driver.read(2, 1)",
      "machine.blk",
      "lab.hint()",
      "lab.parts()",
      "hex(bus.read(0x1e000, 4))",
      "lab.hint(2)",
      "bus",
      "machine.blk.window",
    ].join("\n");
    const r = await lab(["repl", "1"], {
      stdin: `${typed}\n`,
      env: { VIRTIO_LAB_WORKSPACE: workspace },
    });
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    // A sector read: a hex dump with the ASCII column, cut at 256 bytes.
    assert.match(
      out,
      /^Uint8Array\(512\)\n00000000 {2}48 65 6c 6c 6f 20 66 72 {2}6f 6d 20 73 65 63 74 6f {2}\|Hello from secto\|$/m,
    );
    assert.match(out, /^\.\.\. 256 more bytes \(\.subarray\(256\) shows the rest\)$/m);
    // The block device: window and status in hex.
    assert.match(out, /^machine\.blk: virtio_block window \[0x0001e000, 0x0001e200\) irq 42$/m);
    assert.match(out, /^ {2}status {4}0x0f ACKNOWLEDGE\|DRIVER\|DRIVER_OK\|FEATURES_OK$/m);
    // Hints: rendered Markdown (no ** or ` markers), the value is the text, no "undefined".
    const hint1 =
      /^Hint 1 of \d+ \(lab\.hint\(\) shows hint 2\):\n([\s\S]*?)^Parts of this machine/m
        .exec(out)?.[1] ?? "";
    assert.match(hint1, /^ {2}\* The register table of §4\.2\.2 /m, "list items are rendered");
    assert.doesNotMatch(hint1, /\*\*|`/, "no Markdown markers left");
    assert.doesNotMatch(out, /^undefined$/m, "no helper prints a trailing undefined");
    assert.match(out, /^Hint 2 of \d+/m);
    // The parts summary names the learner's exports that are parts.
    assert.match(out, /^Parts of this machine: \d+, all the reference implementation$/m);
    assert.match(out, /^ {2}probeWindow → transport\.driver\.probeWindow$/m);
    assert.match(out, /^"0x74726976"$/m, "MagicValue in hex");
    // The bus and a window: addresses in hex.
    assert.match(out, /^ {2}virtio_console +\[0x0001e200, 0x0001e400\) irq 43 /m);
    assert.match(out, /^virtio_block window \[0x0001e000, 0x0001e200\) irq 42 /m);
    const progress = JSON.parse(Deno.readTextFileSync(`${workspace}/.lab/state.json`));
    assert.equal(progress.lessons["mmio-window"].hintsSeen, 2, "hints seen are remembered");
  } finally {
    await Deno.remove(workspace, { recursive: true });
  }
});

Deno.test("formatBytes dumps at most the limit and says how much is left", () => {
  const bytes = new Uint8Array(40).map((_, i) => i);
  assert.equal(
    formatBytes(bytes, 16),
    "Uint8Array(40)\n00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|\n" +
      "00000010\n... 24 more bytes (.subarray(16) shows the rest)",
  );
  assert.equal(formatBytes(new Uint8Array(0)), "Uint8Array(0) []");
});

Deno.test("showByteArraysAsHexDumps changes Deno.inspect of byte arrays until undone", () => {
  const before = Deno.inspect(new Uint8Array([1, 2]));
  const undo = showByteArraysAsHexDumps();
  try {
    assert.match(
      Deno.inspect(new Uint8Array([0x76, 0x69])),
      /^Uint8Array\(2\)\n00000000 {2}76 69 /,
    );
    assert.match(Deno.inspect({ sector: new Uint8Array(1) }), /Uint8Array\(1\)\n00000000/);
  } finally {
    undo();
  }
  assert.equal(Deno.inspect(new Uint8Array([1, 2])), before);
});

Deno.test("hex pads registers and refuses what is not a register value", () => {
  assert.equal(hex(2), "0x00000002");
  assert.equal(hex(0xffff_ffff), "0xffffffff");
  assert.equal(hex(0x1_0000_0000n, 16), "0x0000000100000000");
  assert.throws(() => hex(-1), RangeError);
  assert.throws(() => hex(1.5), RangeError);
});

Deno.test("formatParts counts every layer and side and names the replaced ones", () => {
  const probe = PARTS.find((p) => p.name === "probeWindow")!;
  const text = formatParts({ transport: { driver: { probeWindow: () => ({}) } } } as never, []);
  assert.match(text, new RegExp(`^Parts of this machine: ${PARTS.length}, 1 replaced$`, "m"));
  assert.match(text, /^transport\.driver +\d+ parts, replaced: probeWindow$/m);
  assert.match(text, /^transport\.device +\d+ parts, all reference$/m);
  assert.match(text, /^Yours in ex: no part yet$/m);
  assert.equal(probe.key, "transport.driver.probeWindow");
});

Deno.test("a machine's display says whether it runs the reference parts or which are replaced", async () => {
  const reference = await createMachine();
  const mine = await createMachine({ parts: { transport: { driver: { probeWindow } } } });
  try {
    assert.match(Deno.inspect(reference), /^ {2}parts: the reference implementation throughout$/m);
    assert.match(Deno.inspect(mine), /^ {2}parts replaced \(1\): transport\.driver\.probeWindow$/m);
    assert.deepEqual(Object.keys(mine.parts), ["transport"]);
  } finally {
    await reference.close();
    await mine.close();
  }
});
