/**
 * The commands that print course text: `lab show N` (the lesson, rendered),
 * `lab hint N [K]` (the next hint each time) and `lab solution N` (the
 * reference code, from the library, once the lesson passes).
 *
 * @module
 */

import { wrapProse } from "../wrap.ts";
import type { Lesson } from "../../course/manifest.ts";
import { sectionTitle } from "../../course/manifest.ts";
import { lessonTextForReading } from "../../course/notebooks.ts";
import { colorEnabled, painter } from "../../course/report.ts";
import { extractSolution } from "../../course/solution.ts";
import { findRequirement } from "../../conformance/requirements.ts";
import { EXIT_FAILURE, UserError } from "../errors.ts";
import type { LabContext } from "./context.ts";
import { userErrorsSync } from "./context.ts";
import { renderMarkdown } from "./markdown.ts";
import { page } from "../pager.ts";
import { hyperlinksEnabled } from "../terminal.ts";
import { fileUrl, hyperlink, specSectionUrl } from "../../format/links.ts";

function width(): number {
  try {
    return Math.min(Deno.consoleSize().columns - 2, 100);
  } catch {
    return 100;
  }
}

/**
 * Prints a lesson: a header with its metadata, the text, and what to do next.
 *
 * @param ctx Course and workspace.
 * @param lesson The lesson.
 * @param options `raw`: print the Markdown source; `pager: false`: print even
 *   when the text is taller than the terminal (by default a long lesson goes
 *   through `$PAGER` or `less` on a terminal).
 */
export async function showLesson(
  ctx: LabContext,
  lesson: Lesson,
  options: { raw?: boolean; pager?: boolean } = {},
): Promise<void> {
  const markdown = lessonTextForReading(Deno.readTextFileSync(lesson.paths.text));
  if (options.raw) {
    console.log(markdown.trimEnd());
    return;
  }
  const color = colorEnabled();
  const links = hyperlinksEnabled();
  const p = painter(color);
  const rule = p.dim("─".repeat(Math.min(width(), 80)));
  const section = (s: string) =>
    hyperlink(`§${s}`, specSectionUrl(sectionTitle(s), s), links) + ` ${sectionTitle(s)}`;
  const requirement = (id: string) => {
    const s = findRequirement(id)?.section;
    return hyperlink(id, s ? specSectionUrl(sectionTitle(s), s) : specSectionUrl(), links);
  };
  const exercise = ctx.workspace.exerciseFile(lesson);
  const file = hyperlink(ctx.workspace.shown(exercise), fileUrl(exercise), links);
  const text = [
    wrapProse(
      p.bold(`Lesson ${lesson.number} of ${ctx.course.lessons.length} · ${lesson.title}`) +
        p.dim(`  (${lesson.id}, about ${lesson.minutes} min)`),
      2,
      width(),
    ),
    wrapProse(`${p.bold("Spec:")} ${lesson.sections.map(section).join("; ")}`, 2, width()),
    wrapProse(
      `${p.bold("Requirements:")} ${lesson.requirements.map(requirement).join(", ")}`,
      2,
      width(),
    ),
    p.bold("You will:"),
    ...lesson.objectives.map((o) => wrapProse(`  • ${o}`, 4, width())),
    rule,
    await renderMarkdown(markdown, color, width()),
    rule,
    wrapProse(`${p.bold("Your exercise:")} ${file}`, 2, width()),
    wrapProse(
      `${p.bold("Grade it:")} deno task lab check ${lesson.number}   (re-grade on every save: ` +
        `deno task lab watch ${lesson.number})`,
      2,
      width(),
    ),
    `${p.bold("Stuck?")} deno task lab hint ${lesson.number}`,
  ].join("\n");
  if (options.pager === false) console.log(text);
  else await page(text);
}

/**
 * Prints a hint: hint `k`, or the next one not seen yet; remembers it.
 *
 * @param ctx Course and workspace.
 * @param lesson The lesson.
 * @param options `k`: a hint number; `all`: every hint; `again`: how to get
 *   the next one (default "Run it again").
 * @throws {UserError} When `k` is not a hint number of the lesson.
 */
export async function showHint(
  ctx: LabContext,
  lesson: Lesson,
  options: { k?: string; all?: boolean; again?: string },
): Promise<void> {
  const color = colorEnabled();
  const p = painter(color);
  const total = lesson.hints.length;
  const seen = ctx.workspace.progress(lesson).hintsSeen ?? 0;
  let numbers: number[];
  if (options.all) {
    numbers = lesson.hints.map((_, i) => i + 1);
  } else if (options.k !== undefined) {
    const k = Number(options.k);
    if (!Number.isInteger(k) || k < 1 || k > total) {
      throw new UserError(`Lesson ${lesson.number} has hints 1 to ${total}, not "${options.k}"`);
    }
    numbers = [k];
  } else {
    numbers = [Math.min(seen + 1, total)];
  }
  for (const k of numbers) {
    console.log(
      p.bold(p.yellow(`Hint ${k} of ${total}`)) +
        p.dim(` · lesson ${lesson.number} · ${lesson.title}`),
    );
    console.log(await renderMarkdown(lesson.hints[k - 1], color, width()));
    console.log("");
  }
  const highest = Math.max(...numbers);
  ctx.workspace.recordHint(lesson, highest);
  if (!options.all && options.k === undefined) {
    if (seen >= total) {
      console.log(p.dim(
        `That was the last hint (you have seen all ${total}). ` +
          `Once the lesson passes, compare with the reference: deno task lab solution ${lesson.number}`,
      ));
    } else if (highest < total) {
      console.log(p.dim(`${options.again ?? "Run it again"} for hint ${highest + 1}.`));
    } else {
      console.log(p.dim("That was the last hint."));
    }
  }
}

/**
 * Prints the reference code of a lesson: each exported declaration named in
 * `lesson.json` → `solution`, taken from the library.
 *
 * @param ctx Course and workspace.
 * @param lesson The lesson.
 * @param options `force`: show it even though the lesson does not pass yet.
 * @throws {UserError} Until the lesson passes, unless forced.
 */
export async function showSolution(
  ctx: LabContext,
  lesson: Lesson,
  options: { force?: boolean },
): Promise<void> {
  const passed = ctx.workspace.progress(lesson).status === "passed";
  if (!passed && !options.force) {
    throw new UserError(
      `Lesson ${lesson.number} does not pass yet: run \`deno task lab check ${lesson.number}\` first ` +
        `(or \`deno task lab solution ${lesson.number} --force\` to look anyway)`,
      EXIT_FAILURE,
    );
  }
  const color = colorEnabled();
  const p = painter(color);
  const parts = userErrorsSync(() => extractSolution(ctx.course, lesson));
  console.log(
    p.bold(`Reference for lesson ${lesson.number} · ${lesson.title}`) +
      p.dim("  (the library's own code: the same names your exercise exports)"),
  );
  for (const part of parts) {
    console.log("");
    console.log(p.cyan(`── ${part.symbol}`) + p.dim(`  ${part.file}:${part.line}`));
    // A fence longer than any backtick run inside (doc comments carry ```ts examples).
    const longest = Math.max(2, ...(part.text.match(/`+/g) ?? []).map((run) => run.length));
    const fence = "`".repeat(longest + 1);
    console.log(await renderMarkdown(`${fence}ts\n${part.text}\n${fence}`, color, 200));
  }
  const reqs = lesson.requirements.map((id) =>
    `${id}${findRequirement(id)?.summary ? `: ${findRequirement(id)!.summary}` : ""}`
  );
  console.log("");
  console.log(p.dim(`Requirements this code enforces:\n  ${reqs.join("\n  ")}`));
}
