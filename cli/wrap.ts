/**
 * Fitting the `lab` command's prose to the terminal: one helper every
 * command uses, so no line breaks a word in two ("MagicV|alue") and colour
 * codes survive the wrap (`wrap-ansi`).
 *
 * @module
 */

import wrapAnsi from "wrap-ansi";

/**
 * The width to wrap prose to, in columns: the terminal's, when stdout is
 * one, else 100 (piped output keeps long lines short enough to read).
 */
export function terminalWidth(): number {
  try {
    return Deno.stdout.isTerminal() ? Math.max(20, Deno.consoleSize().columns) : 100;
  } catch {
    return 100;
  }
}

/**
 * Wraps a paragraph at word boundaries to `width` columns; lines after the
 * first are indented by `indent` spaces (a hanging indent for labels such
 * as "Spec:"). Existing newlines are kept.
 *
 * @param text The paragraph (ANSI colour codes allowed).
 * @param indent Spaces before every line but the first.
 * @param width Columns (default {@linkcode terminalWidth}).
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
export function wrapProse(text: string, indent = 0, width = terminalWidth()): string {
  const pad = " ".repeat(indent);
  const first = wrapAnsi(text, width, { hard: false, trim: true }).split("\n");
  if (indent === 0 || first.length === 1) return first.join("\n");
  // Re-wrap what follows the first line to the narrower width the indent leaves.
  const rest = wrapAnsi(first.slice(1).join(" "), Math.max(10, width - indent), {
    hard: false,
    trim: true,
  }).split("\n");
  return [first[0], ...rest.map((line) => pad + line)].join("\n");
}
