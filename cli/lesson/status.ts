/**
 * `lab` with no arguments (`lab status`) and `lab list`: where the learner
 * stands and what to do next; on a terminal, a menu to pick a lesson.
 *
 * @module
 */

import Table from "cli-table3";
import { terminalWidth, wrapProse } from "../wrap.ts";
import { hyperlinksEnabled } from "../terminal.ts";
import { labCommand } from "../invocation.ts";
import { fileUrl, hyperlink } from "../../format/links.ts";
import type { Lesson } from "../../course/manifest.ts";
import type { LessonProgress } from "../../course/state.ts";
import { colorEnabled, painter, stripAnsi } from "../../course/report.ts";
import { currentLesson, isInteractive, type LabContext } from "./context.ts";

/** One word for a lesson's state. */
export function statusWord(progress: LessonProgress): "passed" | "failing" | "not started" {
  if (progress.status === "passed") return "passed";
  if (progress.status === "failed") return "failing";
  return "not started";
}

function statusCell(progress: LessonProgress, p: ReturnType<typeof painter>): string {
  const word = statusWord(progress);
  if (word === "passed") return p.green("✔ passed");
  if (word === "failing") {
    const total = (progress.passed ?? 0) + (progress.failed ?? 0);
    return p.red(`✘ ${progress.passed ?? 0}/${total} checks`);
  }
  return p.dim("· not started");
}

/** What each layer of the parts registry is called in the table. */
const LAYER_WORDS: Readonly<Record<string, string>> = {
  transport: "mmio",
  virtqueue: "rings",
  packed: "packed rings",
  blk: "blk",
  console: "console",
  core: "core",
};

/** The layers every machine runs on (packed rings are a choice of the machine's). */
const WHOLE_MACHINE = ["transport", "virtqueue", "blk", "console", "core"];

/**
 * What a lesson builds, by the layers of its parts, with the sides: e.g.
 * `mmio dev+drv`, `rings drv`, `blk dev+drv`.
 */
export function buildsCell(lesson: Lesson): string {
  const sides = new Map<string, Set<string>>();
  for (const key of lesson.parts) {
    const [layer, side] = key.split(".");
    const set = sides.get(layer) ?? new Set<string>();
    set.add(side === "device" ? "dev" : "drv");
    sides.set(layer, set);
  }
  // A lesson with parts in every layer runs the whole machine on them.
  if (WHOLE_MACHINE.every((layer) => sides.has(layer))) return "the whole machine";
  const layers = Object.keys(LAYER_WORDS).filter((layer) => sides.has(layer));
  if (layers.length === 0) return "";
  const sideOf = (layer: string) =>
    ["dev", "drv"].filter((x) => sides.get(layer)!.has(x)).join("+");
  // "mmio rings dev+drv" when every layer has the same sides, else per layer.
  if (layers.every((layer) => sideOf(layer) === sideOf(layers[0]))) {
    return `${layers.map((layer) => LAYER_WORDS[layer]).join(" ")} ${sideOf(layers[0])}`;
  }
  return layers.map((layer) => `${LAYER_WORDS[layer]} ${sideOf(layer)}`).join(", ");
}

/**
 * The chapters a lesson's sections belong to, two levels deep, in order and
 * once each (`4.2.2.2` and `4.2.3.1.1` are both `§4.2`): one short line; the
 * full list is in `lab show`.
 */
export function chaptersCell(sections: readonly string[]): string {
  const seen: string[] = [];
  for (const s of sections) {
    const chapter = s.split(".").slice(0, 2).join(".");
    // `§6` already covers `§6.1`.
    if (!seen.includes(chapter) && !seen.includes(chapter.split(".")[0])) seen.push(chapter);
  }
  const key = (c: string) => c.split(".").map(Number);
  seen.sort((a, b) => key(a)[0] - key(b)[0] || (key(a)[1] ?? 0) - (key(b)[1] ?? 0));
  return seen.map((c) => `§${c}`).join(" ");
}

/**
 * The table of lessons with progress.
 *
 * @param ctx Course and workspace.
 * @param color Whether to colour.
 */
export function progressTable(ctx: LabContext, color: boolean): string {
  const p = painter(color);
  const rows = ctx.course.lessons.map((lesson) => {
    const progress = ctx.workspace.progress(lesson);
    return [
      String(lesson.number),
      lesson.title,
      lesson.id,
      statusCell(progress, p),
      `${progress.hintsSeen ?? 0}/${lesson.hints.length}`,
      `${lesson.minutes} min`,
      buildsCell(lesson),
      chaptersCell(lesson.sections),
    ];
  });
  // The spec column takes what the terminal has left and wraps, so the table
  // never runs past the right edge; on a narrow terminal the columns a
  // learner can do without go first (the id, the time, the hints, what it
  // builds: `lab show N` has them all).
  const columns = terminalWidth();
  const all = ["#", "lesson", "id", "status", "hints", "time", "builds", "spec"];
  const aligns = ["right", "left", "left", "left", "right", "right", "left", "left"] as const;
  const droppable = ["id", "time", "hints", "builds"];
  // No narrower than the longest chapter label ("§2.7") plus padding.
  const minSpec = Math.max(...rows.flatMap((r) => r[7].split(" ").map((w) => w.length))) + 2;
  let keep = all.map((_, i) => i);
  const natural = (i: number) =>
    Math.max(all[i].length, ...rows.map((r) => stripAnsi(r[i]).length)) + 2;
  // The lesson titles wrap too, once nothing else can go.
  let titleWidth = natural(1);
  const widthOf = (i: number) => i === 1 ? titleWidth : natural(i);
  const fixedOf = (cols: number[]) =>
    cols.slice(0, -1).reduce((a, i) => a + widthOf(i), 0) + cols.length + 1;
  const wanted = Math.min(natural(7), 18);
  for (const name of droppable) {
    if (fixedOf(keep) + wanted <= columns) break;
    keep = keep.filter((i) => all[i] !== name);
  }
  if (fixedOf(keep) + minSpec > columns) {
    titleWidth = Math.max(14, titleWidth - (fixedOf(keep) + minSpec - columns));
  }
  const render = (spec: number) => {
    const table = new Table({
      head: keep.map((i) => all[i]),
      colAligns: keep.map((i) => aligns[i]),
      colWidths: [...keep.slice(0, -1).map(widthOf), spec],
      wordWrap: true,
      style: { head: color ? ["cyan"] : [], border: color ? ["grey"] : [], compact: true },
    });
    table.push(...rows.map((r) => keep.map((i) => r[i])));
    return table.toString();
  };
  let spec = Math.max(minSpec, Math.min(widthOf(7), columns - fixedOf(keep)));
  let out = render(spec);
  // Measure what cli-table3 drew and take any overflow out of the spec column.
  const drawn = Math.max(...stripAnsi(out).split("\n").map((l) => l.length));
  if (drawn > columns && spec > minSpec) {
    spec = Math.max(minSpec, spec - (drawn - columns));
    out = render(spec);
  }
  return color ? out : stripAnsi(out);
}

/**
 * The "what to do next" lines for a lesson: its title, then one command per
 * line with what it does, wrapped at word boundaries to the terminal (the
 * descriptions hang under their own column; on a terminal too narrow for
 * two columns, each description goes under its command).
 *
 * @param ctx Course and workspace.
 * @param lesson The lesson.
 * @param color Whether to colour.
 * @param width Columns (default: the terminal's).
 * @param links Whether the exercise path is an OSC 8 link to its file.
 */
export function nextSteps(
  ctx: LabContext,
  lesson: Lesson,
  color: boolean,
  width: number = terminalWidth(),
  links: boolean = hyperlinksEnabled(),
): string {
  const p = painter(color);
  const progress = ctx.workspace.progress(lesson);
  const exercise = ctx.workspace.exerciseFile(lesson);
  const file = ctx.workspace.shown(exercise);
  const n = lesson.number;
  const lines = [
    wrapProse(
      p.bold(`Next: lesson ${n} · ${lesson.title}`) + p.dim(`  (${lesson.summary})`),
      2,
      width,
    ),
  ];
  const steps: [string, string, string][] = [];
  const step = (cmd: string, what: string, shown = cmd) => steps.push([cmd, what, shown]);
  if (progress.status === undefined) step(`deno task lab show ${n}`, "read the lesson");
  step(`edit ${file}`, "write your code", `edit ${hyperlink(file, fileUrl(exercise), links)}`);
  step(
    `deno task lab check ${n}`,
    `grade it (or re-grade on every save: deno task lab watch ${n})`,
  );
  if (progress.status === "failed") step(`deno task lab hint ${n}`, "stuck? the next hint");
  const pad = Math.max(...steps.map(([cmd]) => cmd.length)) + 2;
  // Two columns only when the descriptions keep at least 24 columns.
  const columns = 2 + pad + 24 <= width;
  for (const [cmd, what, shown] of steps) {
    const command = p.cyan(shown) + " ".repeat(pad - cmd.length);
    if (columns) lines.push(wrapProse(`  ${command}${what}`, 2 + pad, width));
    else lines.push(`  ${p.cyan(shown)}`, wrapProse(`      ${what}`, 6, width));
  }
  return lines.join("\n");
}

/**
 * Prints the progress overview and the next step.
 *
 * @param ctx Course and workspace.
 */
export function printStatus(ctx: LabContext): void {
  const color = colorEnabled();
  const p = painter(color);
  const { course, workspace } = ctx;
  const passed = course.lessons.filter((l) => workspace.progress(l).status === "passed").length;
  console.log(wrapProse(
    p.bold("virtio-lab") +
      ` · learn virtio by building it · ${passed} of ${course.lessons.length} lessons passed` +
      p.dim(` · workspace: ${workspace.shown(workspace.dir)}/`),
    2,
  ));
  if (course.lessons.length === 0) {
    console.log(
      "The course has no lessons yet (lessons/manifest.json lists none). Authors: see lessons/README.md.",
    );
    return;
  }
  console.log(progressTable(ctx, color));
  const next = currentLesson(ctx);
  if (passed === course.lessons.length) {
    console.log(wrapProse(
      p.green(p.bold("Every lesson passes. Well done!")) +
        " Compare with the reference: deno task lab solution N",
    ));
  } else if (next) {
    console.log(nextSteps(ctx, next, color));
  }
  console.log(p.dim(`All commands: ${labCommand()} --help`));
}

/**
 * `lab next`: the lesson to work on (the first not passed), its title, and the
 * commands that start it; when every lesson passes, says so.
 *
 * @param ctx Course and workspace.
 */
export function printNext(ctx: LabContext): void {
  const color = colorEnabled();
  const p = painter(color);
  const { course, workspace } = ctx;
  if (course.lessons.length === 0) {
    console.log("The course has no lessons yet (lessons/manifest.json lists none).");
    return;
  }
  const passed = course.lessons.filter((l) => workspace.progress(l).status === "passed").length;
  if (passed === course.lessons.length) {
    console.log(wrapProse(
      p.green(p.bold(`Every lesson passes (${passed} of ${passed}). Well done!`)) +
        " Compare with the reference: deno task lab solution N",
    ));
    return;
  }
  const next = currentLesson(ctx)!;
  console.log(
    nextSteps(ctx, next, color) + "\n" +
      p.dim(`  (lesson ${next.number} of ${course.lessons.length}; ${passed} passed so far)`),
  );
}

/** A menu action picked for a lesson. */
export type MenuAction = "show" | "check" | "watch" | "hint" | "repl" | "notebook" | "solution";

/**
 * On a terminal, asks which lesson and what to do with it.
 *
 * @param ctx Course and workspace.
 * @returns The choice, or `null` when the learner quits (or stdin is not a terminal).
 */
export async function pickFromMenu(
  ctx: LabContext,
): Promise<{ lesson: Lesson; action: MenuAction } | null> {
  if (!isInteractive() || ctx.course.lessons.length === 0) return null;
  const { select, isCancel } = await import("@clack/prompts");
  const current = currentLesson(ctx);
  const picked = await select({
    message: "Pick a lesson",
    initialValue: current?.id ?? "",
    options: [
      ...ctx.course.lessons.map((l) => ({
        value: l.id,
        label: `${l.number}. ${l.title}`,
        hint: statusWord(ctx.workspace.progress(l)),
      })),
      { value: "", label: "Quit" },
    ],
  });
  if (isCancel(picked) || picked === "") return null;
  const lesson = ctx.course.lessons.find((l) => l.id === picked)!;
  const lab = labCommand();
  const passed = ctx.workspace.progress(lesson).status === "passed";
  const action = await select({
    message: `Lesson ${lesson.number} · ${lesson.title}`,
    initialValue: (ctx.workspace.progress(lesson).status === undefined ? "show" : "check") as
      | MenuAction
      | "",
    options: [
      { value: "show" as const, label: "Read the lesson", hint: `${lab} show ${lesson.number}` },
      {
        value: "check" as const,
        label: "Grade my exercise",
        hint: `${lab} check ${lesson.number}`,
      },
      {
        value: "watch" as const,
        label: "Re-grade on every save",
        hint: `${lab} watch ${lesson.number}`,
      },
      { value: "hint" as const, label: "Show the next hint", hint: `${lab} hint ${lesson.number}` },
      {
        value: "repl" as const,
        label: "Open a REPL with the lab loaded",
        hint: `${lab} repl ${lesson.number}`,
      },
      {
        value: "notebook" as const,
        label: "Open the notebook",
        hint: `${lab} notebook ${lesson.number}`,
      },
      ...(passed
        ? [{
          value: "solution" as const,
          label: "Compare with the reference",
          hint: `${lab} solution ${lesson.number}`,
        }]
        : []),
      { value: "" as const, label: "Back" },
    ],
  });
  if (isCancel(action)) return null;
  if (action === "") return await pickFromMenu(ctx);
  return { lesson, action };
}
