// Prose fitted to the terminal: words never broken, colour kept, a hanging indent.
import assert from "node:assert/strict";
import { wrapProse } from "../../cli/wrap.ts";

Deno.test("wrapProse breaks at spaces only, and indents the lines after the first", () => {
  const text = "Build both sides of a virtio-mmio window: the device answers MagicValue, " +
    "Version, DeviceID and VendorID and refuses accesses the driver may not make.";
  for (const width of [20, 40, 60, 80]) {
    const lines = wrapProse(text, 2, width).split("\n");
    for (const line of lines) assert.ok(line.length <= width, `${line.length} > ${width}`);
    for (const line of lines.slice(1)) assert.ok(line.startsWith("  ") && line[2] !== " ");
    assert.equal(lines.map((l) => l.trim()).join(" "), text, "no word broken or lost");
  }
});

Deno.test("wrapProse keeps colour codes out of the width and intact", () => {
  const bold = (s: string) => `\x1b[1m${s}\x1b[22m`;
  const out = wrapProse(`${bold("Spec:")} §4.2.1 MMIO Device Discovery; §4.2.2 MMIO Device`, 2, 30);
  assert.ok(out.startsWith("\x1b[1mSpec:\x1b[22m"));
  // deno-lint-ignore no-control-regex
  const plain = out.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  for (const line of plain) assert.ok(line.length <= 30);
});
