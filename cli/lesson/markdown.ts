/**
 * Lesson text in the terminal: Markdown rendered with marked and
 * marked-terminal, fitted to the width (paragraphs and list items wrap at
 * word boundaries, headings carry no `#` markers), without colour codes when
 * `NO_COLOR` is set or stdout is not a terminal.
 *
 * @module
 */

import type { Tokens } from "marked";
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
    renderer: {
      // marked-terminal 7 prints a list item's text token verbatim, so
      // `code` and **bold** inside list items came out with their markers:
      // render the token's inline children instead.
      text(token) {
        const inline = (token as Tokens.Text).tokens;
        return inline ? this.parser.parseInline(inline) : token.text;
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
