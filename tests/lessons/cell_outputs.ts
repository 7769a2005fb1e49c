/**
 * The outputs of a lesson's notebook cells, as a terminal reader sees them.
 *
 * `lab show` prints `lesson.md` in a terminal, where no cell runs. So every
 * ` ```ts cell ` block that produces output is followed in `lesson.md` by a
 * ` ```text output ` block holding that output: what the cell prints, then
 * the value of its last expression as Deno shows it (`Deno.inspect`, no
 * colour; a rich Jupyter display shows its text form). This module runs a
 * lesson's cells in order, in one Deno process started from `notebooks/`
 * (where the cells' relative imports point), against a fresh workspace with
 * the pristine stubs, and returns what each produced:
 *
 * - `tests/lessons/cell_outputs_test.ts` compares it with the recorded blocks;
 * - `deno run -A tests/lessons/cell_outputs.ts --write 01-mmio-window` writes
 *   the blocks into the lesson after an edit (review the diff: it is text the
 *   learner reads).
 *
 * A cell's last statement is displayed when it is an expression statement
 * starting at the beginning of a line (what Jupyter displays too);
 * declarations, loops and the like display nothing. Cells must not declare a
 * name twice: they run as one module here.
 *
 * @module
 */

import * as path from "node:path";
import { defaultCourseRoot, fileUrl } from "../../course/paths.ts";
import { findLesson, type Lesson, loadCourse } from "../../course/manifest.ts";
import { REPO, runCommand } from "../course/helpers.ts";

/** One ` ```ts cell ` block of a lesson, with the output recorded after it. */
export interface LessonCell {
  /** Position among the lesson's cells, from 0. */
  readonly index: number;
  /** The cell's code. */
  readonly code: string;
  /** The recorded ` ```text output ` block, or `null` when there is none. */
  readonly recorded: string | null;
  /**
   * Lines (0-based, end exclusive) from the one after the cell's closing
   * fence to the end of its recorded block: what an output block replaces.
   */
  readonly at: { readonly start: number; readonly end: number };
}

const CELL = /^```\s*(ts|typescript)\s+cell\s*$/;
const OUTPUT = /^```\s*text\s+output\s*$/;
const DECLARATION =
  /^(const|let|var|import|export|function|async\s+function|class|for|while|if|try|do|switch|throw|return|type|interface)\b/;

/**
 * The cells of a lesson's Markdown and their recorded outputs.
 *
 * @param markdown The contents of `lesson.md`.
 */
export function lessonCells(markdown: string): LessonCell[] {
  const lines = markdown.split("\n");
  const cells: LessonCell[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!CELL.test(lines[i].trim())) continue;
    const start = i + 1;
    while (i + 1 < lines.length && lines[i + 1].trim() !== "```") i++;
    const code = lines.slice(start, i + 1).join("\n").trimEnd();
    i++; // the closing fence
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === "") j++;
    let recorded: string | null = null;
    let at = { start: i + 1, end: i + 1 };
    if (j < lines.length && OUTPUT.test(lines[j].trim())) {
      let k = j + 1;
      while (k < lines.length && lines[k].trim() !== "```") k++;
      recorded = lines.slice(j + 1, k).join("\n");
      at = { start: i + 1, end: k + 1 };
      i = k;
    }
    cells.push({ index: cells.length, code, recorded, at });
  }
  return cells;
}

/**
 * The statement a cell displays: its last statement when that is an
 * expression starting a line, without the trailing semicolon and comment.
 *
 * @param code The cell's code.
 * @returns `{ before, shown }`: the code that runs first, and the expression shown (or `null`).
 */
export function displayedExpression(code: string): { before: string; shown: string | null } {
  const lines = code.split("\n");
  let s = lines.length - 1;
  while (s > 0) {
    const line = lines[s];
    const prev = lines[s - 1].trimEnd();
    const startsStatement = /^[^\s)\]}]/.test(line) &&
      (prev === "" || /[;{}](\s+\/\/.*)?$/.test(prev) || prev.startsWith("//"));
    if (startsStatement) break;
    s--;
  }
  const last = lines.slice(s).join("\n").replace(/;(\s+\/\/.*)?$/, "").trimEnd();
  if (DECLARATION.test(last) || last.startsWith("//") || last === "") {
    return { before: code, shown: null };
  }
  return { before: lines.slice(0, s).join("\n"), shown: last };
}

/** Rewrites the cells' imports (written from `notebooks/`) to absolute URLs. */
function absoluteImports(code: string, notebooks: string): string {
  return code.replace(
    /(from\s+|import\s*\(\s*)"(\.\.?\/[^"]+)"/g,
    (_m, lead: string, spec: string) => `${lead}"${fileUrl(path.resolve(notebooks, spec))}"`,
  );
}

const MARK = "\u0001cell-output";

/**
 * Runs a lesson's cells in one Deno process, as the notebook would, and
 * returns each cell's output (printed text, then the displayed value).
 *
 * @param lesson The lesson.
 * @param notebooksDir The course's `notebooks/` folder (the cells' working directory).
 * @returns One string per cell, in order; empty for a cell that shows nothing.
 * @throws {Error} When the cells do not run (a syntax error, an uncaught exception).
 */
export async function runCells(lesson: Lesson, notebooksDir: string): Promise<string[]> {
  const cells = lessonCells(Deno.readTextFileSync(lesson.paths.text));
  const support = fileUrl(path.join(REPO, "course", "notebook_support.ts"));
  const body = [
    `import { gradeLesson, hint, labMachine, loadExercise, showLesson } from "${support}";`,
    `void gradeLesson, hint, labMachine, loadExercise, showLesson;`,
    `const LESSON = ${JSON.stringify(lesson.id)};`,
    `const __show = (v: unknown) => { if (v !== undefined) console.log(Deno.inspect(v, { colors: false })); };`,
  ];
  for (const cell of cells) {
    const { before, shown } = displayedExpression(absoluteImports(cell.code, notebooksDir));
    body.push(`console.log(${JSON.stringify(`${MARK} ${cell.index}`)});`, before);
    if (shown) body.push(`__show(${shown});`);
  }
  body.push(`console.log(${JSON.stringify(`${MARK} end`)});`, `Deno.exit(0);`);
  // Static imports are hoisted out of the cells to the top of the module.
  const imports = body.join("\n").match(/^import [^;]+;$/gms) ?? [];
  const rest = body.join("\n").replace(/^import [^;]+;$/gms, "");
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-cells-" });
  try {
    const file = path.join(dir, `${lesson.dir}.ts`);
    Deno.writeTextFileSync(file, `${imports.join("\n")}\n${rest}\n`);
    const r = await runCommand(Deno.execPath(), [
      "run",
      "-A",
      "--no-check",
      "--config",
      path.join(REPO, "deno.json"),
      file,
    ], {
      cwd: notebooksDir,
      env: { NO_COLOR: "1", VIRTIO_LAB_WORKSPACE: path.join(dir, "workspace") },
      timeoutMs: 60_000,
    });
    const parts = r.stdout.split(new RegExp(`^${MARK} `, "m"));
    if (r.code !== 0 || !parts.at(-1)?.startsWith("end")) {
      throw new Error(`the cells of ${lesson.dir} did not run (exit ${r.code}):\n${r.stderr}`);
    }
    return cells.map((c) => {
      const part = parts.find((p) => p.startsWith(`${c.index}\n`)) ?? `${c.index}\n`;
      return part.slice(part.indexOf("\n") + 1).replace(/\s+$/, "")
        .split("\n").map((l) => l.trimEnd()).join("\n");
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The lesson's Markdown with every output block written from `outputs`
 * (added after a cell that shows something, removed after one that does not).
 *
 * @param markdown The contents of `lesson.md`.
 * @param outputs What each cell produced, from {@linkcode runCells}.
 */
export function withOutputs(markdown: string, outputs: readonly string[]): string {
  const lines = markdown.split("\n");
  const cells = lessonCells(markdown);
  for (const cell of [...cells].reverse()) {
    const out = outputs[cell.index];
    const block = out === "" ? [] : ["", "```text output", ...out.split("\n"), "```"];
    lines.splice(cell.at.start, cell.at.end - cell.at.start, ...block);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const write = Deno.args.includes("--write");
  const course = loadCourse(defaultCourseRoot());
  const wanted = Deno.args.filter((a) => !a.startsWith("--"));
  for (const lesson of wanted.length ? wanted.map((w) => findLesson(course, w)) : course.lessons) {
    const outputs = await runCells(lesson, course.notebooksDir);
    if (write) {
      const text = Deno.readTextFileSync(lesson.paths.text);
      Deno.writeTextFileSync(lesson.paths.text, withOutputs(text, outputs));
      console.log(`wrote the outputs of ${lesson.dir}/lesson.md`);
    } else {
      outputs.forEach((o, i) => console.log(`--- cell ${i}\n${o}`));
    }
  }
}
