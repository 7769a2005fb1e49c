/**
 * Lesson text in the terminal: Markdown rendered with marked and
 * marked-terminal, without colour codes when `NO_COLOR` is set or stdout is
 * not a terminal.
 *
 * @module
 */

import type { Tokens } from "marked";
import { stripAnsi } from "../../course/report.ts";

/**
 * Renders Markdown for the terminal.
 *
 * @param markdown The text.
 * @param color Whether to keep ANSI styling.
 * @param width Wrap width in columns.
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
  // deno-lint-ignore no-explicit-any
  marked.use(markedTerminal({ reflowText: true, width, tab: 2, emoji: false }) as any);
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
  const out = (await marked.parse(markdown)).replace(/\n{3,}/g, "\n\n").trimEnd();
  return color ? out : stripAnsi(out);
}
