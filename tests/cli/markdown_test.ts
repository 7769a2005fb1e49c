// Lesson Markdown in the terminal: headings without # markers, prose, lists and tables
// fitted to the width at word boundaries; fenced code as written.
import assert from "node:assert/strict";
import { renderMarkdown } from "../../cli/lesson/markdown.ts";

const markdown = `# The MMIO window

## Probing

A driver reads MagicValue, Version, DeviceID and VendorID before anything else, in that order, one 32-bit read each.

- The register table of §4.2.2 (the map at the top of the lesson; MMIO_REGISTERS in the
notebook). Each row gives an offset, a direction and the interface versions that have it.
- Short item.

| function | side | what it decides |
| --- | --- | --- |
| \`readIdentification\` | device | the value of MagicValue, Version, DeviceID and VendorID |
| \`probeWindow\` | driver | device, empty slot, or rejected |

\`\`\`text output
  0x000 MagicValue    R   a long preformatted line that stays exactly as it is written here
\`\`\`
`;

const words = (text: string) => text.split(/[\s│─┌┐└┘├┤┬┴┼]+/).filter(Boolean);

Deno.test("headings have no # markers; prose, lists and tables fit 60 and 80 columns", async () => {
  for (const width of [60, 80]) {
    const out = await renderMarkdown(markdown, false, width);
    assert.doesNotMatch(out, /^#/m, "no # markers");
    assert.match(out, /^The MMIO window$/m);
    assert.match(out, /^Probing$/m);
    const lines = out.split("\n");
    const code = lines.findIndex((l) => l.includes("0x000 MagicValue"));
    for (const [i, line] of lines.entries()) {
      if (i !== code) assert.ok(line.length <= width, `${line.length} > ${width}: ${line}`);
    }
    // The list item became one paragraph, hanging under its text.
    const item = lines.findIndex((l) => /^ {2}\* The register table/.test(l));
    assert.match(lines[item + 1], /^ {4}\S/);
    assert.ok(words(out).includes("notebook)."), "no word lost in the reflow");
    // The table wraps its last column instead of running past the edge.
    assert.ok(lines.some((l) => /^│ readIdentification +│ device +│ /.test(l)));
    // Preformatted text is kept as written.
    assert.ok(
      lines[code].endsWith("a long preformatted line that stays exactly as it is written here"),
    );
  }
});
