/**
 * Prose fitted to a width at word boundaries, for every text a terminal shows
 * (the `lab` command's Next lines, lesson headers, failure details of a grade
 * report): no line breaks a word in two ("MagicV|alue"), and colour codes and
 * OSC 8 links survive the wrap (`wrap-ansi`).
 *
 * @module
 */

import wrapAnsi from "wrap-ansi";

/**
 * Wraps a paragraph at word boundaries to `width` columns; lines after the
 * first are indented by `indent` spaces (a hanging indent for labels such
 * as "Spec:"); the first line keeps the paragraph's own leading spaces. A
 * single word longer than the width stays whole on its own line rather than
 * being cut.
 *
 * @param text The paragraph (ANSI colour codes and OSC 8 links allowed).
 * @param indent Spaces before every line but the first.
 * @param width Columns (at least 10 are used).
 * @returns The wrapped text, without a trailing newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wrapProse } from "./wrap.ts";
 * assert.equal(
 *   wrapProse("the device answers MagicValue and Version", 2, 20),
 *   "the device answers\n  MagicValue and\n  Version",
 * );
 * ```
 */
export function wrapProse(text: string, indent: number, width: number): string {
  const columns = Math.max(10, width);
  // wrap-ansi trims each line: keep the paragraph's own leading spaces.
  const lead = /^ */.exec(text)![0];
  const options = { hard: false, trim: true };
  const first = wrapAnsi(text.slice(lead.length), Math.max(10, columns - lead.length), options)
    .split("\n");
  if (first.length === 1) return lead + first[0];
  // Re-wrap what follows the first line to the narrower width the indent leaves.
  const pad = " ".repeat(indent);
  const rest = wrapAnsi(first.slice(1).join(" "), Math.max(10, columns - indent), options)
    .split("\n");
  return [lead + first[0], ...rest.map((line) => pad + line)].join("\n");
}

/**
 * Wraps text line by line, keeping its own line breaks and each line's
 * leading spaces: every line becomes a paragraph whose continuation lines are
 * indented by its leading spaces plus `hang` (so `"  observed: ..."` wraps
 * under its own text, not under the margin).
 *
 * @param text Lines (ANSI colour codes and OSC 8 links allowed).
 * @param width Columns.
 * @param hang Extra indent of continuation lines, in columns (default 2).
 * @returns The wrapped text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wrapLines } from "./wrap.ts";
 * assert.equal(
 *   wrapLines("  observed: Version read 1 where 2 was expected\nok", 24),
 *   "  observed: Version read\n    1 where 2 was\n    expected\nok",
 * );
 * ```
 */
export function wrapLines(text: string, width: number, hang = 2): string {
  return text.split("\n").map((line) => {
    const lead = /^ */.exec(line)![0].length;
    if (line.length === lead) return line;
    const body = wrapProse(line.slice(lead), hang, width - lead);
    return body.split("\n").map((l) => " ".repeat(lead) + l).join("\n");
  }).join("\n");
}
