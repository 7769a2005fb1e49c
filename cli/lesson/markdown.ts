/**
 * Lesson text in the terminal: Markdown rendered with marked and
 * marked-terminal, fitted to the width (paragraphs and list items wrap at
 * word boundaries, headings carry no `#` markers), without colour codes when
 * `NO_COLOR` is set or stdout is not a terminal.
 *
 * @module
 */

import type { Tokens } from "marked";
import Table from "cli-table3";
import { stripAnsi } from "../../course/report.ts";
import { wrapProse } from "../../format/wrap.ts";

/**
 * Renders Markdown for the terminal.
 *
 * @param markdown The text.
 * @param color Whether to keep ANSI styling.
 * @param width Wrap width in columns.
 * @returns The rendered text, without a trailing newline.
 */
export async function renderMarkdown(
  markdown: string,
  color: boolean,
  width = 100,
): Promise<string> {
  const [{ Marked }, { markedTerminal }] = await Promise.all([
    import("marked"),
    import("marked-terminal"),
  ]);
  const marked = new Marked();
  const options = { reflowText: true, width, tab: 2, emoji: false, showSectionPrefix: false };
  // deno-lint-ignore no-explicit-any
  marked.use(markedTerminal(options) as any);
  marked.use({
    // A fence's info string may say more than its language (the lessons' ```text output and
    // ```ts cell): the highlighter gets the first word, so it neither fails nor warns.
    walkTokens(token) {
      if (token.type === "code" && typeof token.lang === "string") {
        token.lang = token.lang.trim().split(/\s+/)[0];
      }
    },
    renderer: {
      // marked-terminal 7 prints a list item's text token verbatim, so
      // `code` and **bold** inside list items came out with their markers:
      // render the token's inline children instead.
      text(token) {
        const inline = (token as Tokens.Text).tokens;
        return inline ? this.parser.parseInline(inline) : token.text;
      },
      // marked-terminal draws a table as wide as its longest cells: fit it to the width,
      // wrapping cells at word boundaries.
      table(token) {
        const head = token.header.map((cell) => this.parser.parseInline(cell.tokens));
        const rows = token.rows.map((row) =>
          row.map((cell) => this.parser.parseInline(cell.tokens))
        );
        return `${fittedTable(head, rows, width, color)}\n\n`;
      },
    },
  });
  const rendered = (await marked.parse(markdown)).replace(/\n{3,}/g, "\n\n").trimEnd();
  const out = reflowListItems(rendered, width);
  return color ? out : stripAnsi(out);
}

/** A rendered list item's first line: indent, bullet (`*`, `-`, `•` or `1.`), one space. */
const BULLET = /^( *)([*•-]|\d+\.) (?=\S)/;

/**
 * Re-wraps the list items of rendered Markdown to `width`: marked-terminal
 * reflows paragraphs but keeps a tight list item's source line breaks (its
 * later lines at the list's indent), so an item written on 90-column source
 * lines overflowed an 80-column terminal. Each item (its bullet line and the
 * non-blank, non-bullet lines after it at its indent or deeper) becomes one
 * paragraph, wrapped with its continuation lines under its text.
 * Everything else is left as it is.
 *
 * @param text Rendered Markdown (ANSI codes allowed).
 * @param width Columns.
 * @returns The text with its list items wrapped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reflowListItems } from "./markdown.ts";
 * assert.equal(
 *   reflowListItems("  * one two three\n  four five\n\nafter", 14),
 *   "  * one two\n    three four\n    five\n\nafter",
 * );
 * ```
 */
export function reflowListItems(text: string, width: number): string {
  const lines = text.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const bullet = BULLET.exec(stripAnsi(lines[i]));
    if (!bullet) {
      out.push(lines[i]);
      continue;
    }
    const hang = bullet[0].length;
    // The item's own source lines follow at the list's indent (or deeper); a blank line,
    // the next bullet or a line further out ends it.
    const lead = " ".repeat(bullet[1].length);
    const item = [lines[i]];
    for (;;) {
      const next = i + 1 < lines.length ? stripAnsi(lines[i + 1]) : "";
      if (next.trim() === "" || !next.startsWith(lead) || BULLET.test(next)) break;
      item.push(lines[++i].trimStart());
    }
    out.push(wrapProse(item.join(" "), hang, width));
  }
  return out.join("\n");
}

/**
 * A table no wider than `width`: columns keep their natural width while the
 * table fits; otherwise the widest column gives up a character at a time
 * (never below its longest word) and its cells wrap at spaces.
 *
 * @param head Column titles (ANSI codes allowed).
 * @param rows Cells.
 * @param width Columns.
 * @param color Whether to draw the header and borders in colour.
 * @returns The drawn table.
 */
export function fittedTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  width: number,
  color: boolean,
): string {
  const all = [head, ...rows];
  const cellWidth = (text: string) => Math.max(...stripAnsi(text).split("\n").map((l) => l.length));
  const natural = head.map((_, i) => Math.max(...all.map((r) => cellWidth(r[i] ?? ""))) + 2);
  const floor = head.map((_, i) =>
    Math.max(...all.flatMap((r) => stripAnsi(r[i] ?? "").split(/\s+/).map((w) => w.length))) + 2
  );
  const widths = [...natural];
  const total = () => widths.reduce((a, w) => a + w, 0) + widths.length + 1;
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      if (widths[i] > floor[i] && (widest < 0 || widths[i] > widths[widest])) widest = i;
    }
    if (widest < 0) break; // every column is down to its longest word
    widths[widest]--;
  }
  const table = new Table({
    head: [...head],
    colWidths: widths,
    wordWrap: true,
    style: { head: color ? ["cyan"] : [], border: color ? ["grey"] : [], compact: false },
  });
  table.push(...rows.map((r) => [...r]));
  return table.toString();
}
