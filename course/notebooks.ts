/**
 * Generates `notebooks/NN-slug.ipynb` from `lessons/NN-slug/lesson.md`, so a
 * lesson's text is written once:
 *
 * - Markdown becomes markdown cells;
 * - a fenced block whose info string is `ts cell` (or `typescript cell`)
 *   becomes a code cell; plain ` ```ts ` blocks stay in the text;
 * - a generated first code cell imports the notebook helpers
 *   (`../course/notebook_support.ts`) and sets `LESSON`;
 * - a generated last cell grades the learner's exercise out of process and
 *   shows the result as a table.
 *
 * The output is deterministic (fixed key order, no outputs or execution
 * counts, stable cell ids), so `tools/notebooks.ts --check` compares bytes.
 *
 * @module
 */

import * as path from "node:path";
import type { Course, Lesson } from "./manifest.ts";
import type { Workspace } from "./workspace.ts";
import { relativeSpecifier } from "./paths.ts";
import { ENGINE_DIR } from "./paths.ts";

/** One notebook cell, in nbformat 4.5 shape. */
export interface NotebookCell {
  /** Markdown text or TypeScript code. */
  readonly cell_type: "markdown" | "code";
  /** Always `null`: generated notebooks carry no execution state. */
  readonly execution_count?: null;
  /** Stable id, `<lesson dir>-<index>`. */
  readonly id: string;
  /** Always empty. */
  readonly metadata: Record<string, unknown>;
  /** Always empty for code cells. */
  readonly outputs?: readonly unknown[];
  /** The text, as lines that keep their newlines. */
  readonly source: readonly string[];
}

/** What a lesson's Markdown splits into. */
export interface LessonChunk {
  /** `markdown` for text, `code` for a ```` ```ts cell ```` block. */
  readonly kind: "markdown" | "code";
  /** The text (no fences for code). */
  readonly text: string;
}

const CELL_FENCE = /^(`{3,}|~{3,})\s*(ts|typescript)\s+cell\s*$/;

/**
 * Splits lesson Markdown into text and notebook code cells.
 *
 * @param markdown The contents of `lesson.md`.
 * @returns Chunks in order; empty text chunks are dropped.
 */
export function splitLesson(markdown: string): LessonChunk[] {
  const lines = markdown.replace(/\r\n/g, "\n").split("\n");
  const chunks: LessonChunk[] = [];
  let text: string[] = [];
  const flush = () => {
    const body = text.join("\n").trim();
    if (body) chunks.push({ kind: "markdown", text: body });
    text = [];
  };
  let i = 0;
  let inOtherFence: string | null = null;
  while (i < lines.length) {
    const line = lines[i];
    if (inOtherFence) {
      text.push(line);
      if (line.trim().startsWith(inOtherFence) && line.trim().replace(/[`~]/g, "") === "") {
        inOtherFence = null;
      }
      i++;
      continue;
    }
    const cell = CELL_FENCE.exec(line.trim());
    if (cell) {
      flush();
      const fence = cell[1];
      const code: string[] = [];
      i++;
      while (
        i < lines.length &&
        !(lines[i].trim().startsWith(fence) && lines[i].trim().replace(/[`~]/g, "") === "")
      ) {
        code.push(lines[i]);
        i++;
      }
      i++; // closing fence
      chunks.push({ kind: "code", text: code.join("\n").trimEnd() });
      continue;
    }
    const other = /^(`{3,}|~{3,})/.exec(line.trim());
    if (other) inOtherFence = other[1];
    text.push(line);
    i++;
  }
  flush();
  return chunks;
}

/**
 * Lesson Markdown for reading outside a notebook (`lab show`): the `cell`
 * marker is dropped from code fences so they render as ordinary TypeScript.
 *
 * @param markdown The contents of `lesson.md`.
 */
export function lessonTextForReading(markdown: string): string {
  return markdown.replace(/^(\s*(?:`{3,}|~{3,})\s*(?:ts|typescript))\s+cell\s*$/gm, "$1");
}

/**
 * Builds the notebook of a lesson.
 *
 * @param course The course (for the lesson count and paths).
 * @param lesson The lesson.
 * @returns The notebook as JSON text (nbformat 4.5, one-space indent, trailing newline).
 */
export function generateNotebook(course: Course, lesson: Lesson): string {
  const markdown = Deno.readTextFileSync(lesson.paths.text);
  const support = relativeSpecifier(
    course.notebooksDir,
    path.join(ENGINE_DIR, "notebook_support.ts"),
  );
  const cells: NotebookCell[] = [];
  let n = 0;
  const id = () => `${lesson.dir}-${String(n++).padStart(2, "0")}`.slice(-64);
  const md = (text: string): NotebookCell => ({
    cell_type: "markdown",
    id: id(),
    metadata: {},
    source: sourceLines(text),
  });
  const code = (text: string): NotebookCell => ({
    cell_type: "code",
    execution_count: null,
    id: id(),
    metadata: {},
    outputs: [],
    source: sourceLines(text),
  });
  const exercisePath = `workspace/${lesson.dir}/exercise.ts`;
  cells.push(md(
    `*virtio-lab · lesson ${lesson.number} of ${course.lessons.length} · about ${lesson.minutes} min · ` +
      `spec ${lesson.sections.map((s) => `§${s}`).join(", ")}*\n\n` +
      `This notebook is generated from \`lessons/${lesson.dir}/lesson.md\` (run \`deno task notebooks\` after ` +
      `editing the lesson). Your exercise is \`${exercisePath}\`; the last cell grades it.`,
  ));
  cells.push(code(
    `// Setup (generated): the lab's notebook helpers and this lesson's number.\n` +
      `import { gradeLesson, hint, labMachine, loadExercise, showLesson } from "${support}";\n` +
      `const LESSON = "${lesson.id}";`,
  ));
  for (const chunk of splitLesson(markdown)) {
    cells.push(chunk.kind === "markdown" ? md(chunk.text) : code(chunk.text));
  }
  cells.push(md(
    `## Grade your exercise\n\n` +
      `Edit \`${exercisePath}\` in your editor, then run the next cell. Grading runs out of process ` +
      `(\`deno check\`, then every check in a sandbox: read-only, no network, time and memory ` +
      `limits), so it always sees your latest code. Stuck? \`hint(LESSON)\` shows the next hint.`,
  ));
  cells.push(code(`await gradeLesson(LESSON);`));
  const notebook = {
    cells,
    metadata: {
      kernelspec: { display_name: "Deno", language: "typescript", name: "deno" },
      language_info: {
        codemirror_mode: "typescript",
        file_extension: ".ts",
        mimetype: "text/x.typescript",
        name: "typescript",
        nbconvert_exporter: "script",
        pygments_lexer: "typescript",
      },
      virtio_lab: { generated_from: `lessons/${lesson.dir}/lesson.md`, lesson: lesson.id },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
  return `${JSON.stringify(sortKeys(notebook), null, 1)}\n`;
}

/** Jupyter's source form: lines with their newlines, the last without. */
function sourceLines(text: string): string[] {
  const lines = text.split("\n");
  return lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** What {@linkcode syncNotebooks} found or did. */
export interface NotebookSync {
  /** Notebooks written (or, with `check`, out of date). */
  readonly stale: readonly string[];
  /** `.ipynb` files in `notebooks/` that no lesson generates. */
  readonly extra: readonly string[];
  /** Notebooks already current. */
  readonly current: readonly string[];
}

/**
 * Regenerates every lesson's notebook, or checks that each is current.
 *
 * @param course The course.
 * @param options `check`: compare only, write nothing.
 * @returns Absolute paths of stale (written), extra and current notebooks.
 */
export function syncNotebooks(course: Course, options: { check?: boolean } = {}): NotebookSync {
  const stale: string[] = [];
  const current: string[] = [];
  const wanted = new Set<string>();
  for (const lesson of course.lessons) {
    const file = lesson.paths.notebook;
    wanted.add(path.basename(file));
    const text = generateNotebook(course, lesson);
    let existing: string | null = null;
    try {
      existing = Deno.readTextFileSync(file);
    } catch {
      existing = null;
    }
    if (existing === text) {
      current.push(file);
      continue;
    }
    stale.push(file);
    if (!options.check) {
      Deno.mkdirSync(course.notebooksDir, { recursive: true });
      Deno.writeTextFileSync(file, text);
    }
  }
  const extra: string[] = [];
  try {
    for (const entry of Deno.readDirSync(course.notebooksDir)) {
      if (entry.isFile && entry.name.endsWith(".ipynb") && !wanted.has(entry.name)) {
        extra.push(path.join(course.notebooksDir, entry.name));
      }
    }
  } catch {
    // no notebooks/ folder yet
  }
  return { stale, extra: extra.sort(), current };
}

/** Where the learner's copy of a lesson's notebook lives: next to their exercise. */
export function workspaceNotebookFile(workspace: Workspace, lesson: Lesson): string {
  return path.join(workspace.lessonDir(lesson), path.basename(lesson.paths.notebook));
}

/** What {@linkcode copyNotebookToWorkspace} did. */
export interface NotebookCopy {
  /** The learner's copy (absolute path). */
  readonly file: string;
  /** Whether it was created now (`false`: it existed and was left alone). */
  readonly created: boolean;
  /**
   * Whether the course's notebook has changed since the copy was made (the
   * copy records a SHA-256 of what it was copied from); `false` for a copy
   * made now or one that records nothing.
   */
  readonly courseChanged: boolean;
}

/** Relative module specifiers in code: `from "./x"`, `import "../x"`, `import("../x")`. */
const RELATIVE_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"'\n]*)\2/g;

/**
 * Rewrites the relative imports of a notebook's code cells for a copy in
 * another folder, so they still name the same modules.
 *
 * @param notebook The notebook, parsed.
 * @param fromDir Folder the notebook was written for.
 * @param toDir Folder of the copy.
 * @returns A new notebook object (the input is not changed).
 */
export function relocateNotebook<
  T extends { cells: { cell_type: string; source: string[] | string }[] },
>(
  notebook: T,
  fromDir: string,
  toDir: string,
): T {
  const rewrite = (line: string) =>
    line.replace(RELATIVE_IMPORT, (_m, lead: string, quote: string, spec: string) => {
      const moved = relativeSpecifier(toDir, path.resolve(fromDir, spec));
      return `${lead}${quote}${moved}${quote}`;
    });
  return {
    ...notebook,
    cells: notebook.cells.map((cell) =>
      cell.cell_type !== "code" ? cell : {
        ...cell,
        source: Array.isArray(cell.source) ? cell.source.map(rewrite) : rewrite(cell.source),
      }
    ),
  };
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Copies a lesson's notebook into the learner's workspace, once: the copy is
 * theirs (its outputs and edits never touch the course's tracked
 * `notebooks/`), and a course update never overwrites it. Relative imports
 * are rewritten for the copy's folder; its metadata records what it was
 * copied from (`virtio_lab.copied_from`, `virtio_lab.copied_from_sha256`).
 *
 * @param course The course.
 * @param workspace The learner's workspace.
 * @param lesson The lesson.
 * @returns Where the copy is, and whether it was made now.
 * @throws {Deno.errors.NotFound} If the course has no notebook for the lesson.
 */
export async function copyNotebookToWorkspace(
  course: Course,
  workspace: Workspace,
  lesson: Lesson,
): Promise<NotebookCopy> {
  const file = workspaceNotebookFile(workspace, lesson);
  const original = Deno.readTextFileSync(lesson.paths.notebook);
  const hash = await sha256(original);
  try {
    const mine = JSON.parse(Deno.readTextFileSync(file)) as {
      metadata?: { virtio_lab?: { copied_from_sha256?: string } };
    };
    const recorded = mine.metadata?.virtio_lab?.copied_from_sha256;
    return { file, created: false, courseChanged: recorded !== undefined && recorded !== hash };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) && !(error instanceof SyntaxError)) throw error;
    if (error instanceof SyntaxError) {
      // A copy the learner broke by hand is still theirs: leave it.
      return { file, created: false, courseChanged: false };
    }
  }
  const parsed = JSON.parse(original) as {
    cells: { cell_type: string; source: string[] }[];
    metadata: Record<string, unknown>;
  };
  const copy = relocateNotebook(parsed, course.notebooksDir, path.dirname(file));
  copy.metadata = {
    ...copy.metadata,
    virtio_lab: {
      ...(copy.metadata.virtio_lab as Record<string, unknown> | undefined),
      copied_from: relativeSpecifier(course.root, lesson.paths.notebook).replace(/^\.\//, ""),
      copied_from_sha256: hash,
    },
  };
  Deno.mkdirSync(path.dirname(file), { recursive: true });
  // createNew: never replace a copy made meanwhile (another `lab notebook`).
  try {
    Deno.writeTextFileSync(file, `${JSON.stringify(copy, null, 1)}\n`, { createNew: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      return { file, created: false, courseChanged: false };
    }
    throw error;
  }
  return { file, created: true, courseChanged: false };
}
