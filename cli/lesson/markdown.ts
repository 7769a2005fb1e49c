/**
 * Lesson text in the terminal: Markdown rendered with marked and
 * marked-terminal, without colour codes when `NO_COLOR` is set or stdout is
 * not a terminal.
 *
 * @module
 */

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
  const out = (await marked.parse(markdown)).replace(/\n{3,}/g, "\n\n").trimEnd();
  return color ? out : stripAnsi(out);
}
