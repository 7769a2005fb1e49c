/**
 * Fitting the `lab` command's prose to the terminal: the shared wrapper of
 * `format/wrap.ts` (words never broken, colour and links kept), with the
 * terminal's width as the default.
 *
 * @module
 */

import { wrapLines as wrapLinesTo, wrapProse as wrapProseTo } from "../format/wrap.ts";

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
 * as "Spec:"). The first line keeps the text's leading spaces.
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
export function wrapProse(text: string, indent = 0, width: number = terminalWidth()): string {
  return wrapProseTo(text, indent, width);
}

/**
 * Wraps text line by line, each line under its own leading spaces plus
 * `hang` (see `format/wrap.ts`).
 *
 * @param text Lines (ANSI colour codes allowed).
 * @param width Columns (default {@linkcode terminalWidth}).
 * @param hang Extra indent of continuation lines (default 2).
 * @returns The wrapped text.
 */
export function wrapLines(text: string, width: number = terminalWidth(), hang = 2): string {
  return wrapLinesTo(text, width, hang);
}
