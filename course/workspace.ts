/**
 * The learner's workspace: where their work lives, outside the course files.
 *
 * ```text
 * workspace/                     <repo>/workspace (git-ignored) or $VIRTIO_LAB_WORKSPACE
 *   README.md                    what this folder is (written once)
 *   01-mmio-window/
 *     exercise.ts                the learner's file: a copy of lessons/01-mmio-window/exercise.ts
 *     exercise_test.ts           generated: `deno test` here grades exercise.ts
 *   deno.json                    generated, only for a workspace outside the course
 *   .lab/state.json              progress (see state.ts)
 *   .lab/types/NN-slug.ts        generated: the exports of exercise.ts match the stub's
 *   .lab/backup/<time>/          what `lab reset` overwrote
 * ```
 *
 * Import paths: stubs import the library and the engine by relative paths
 * (`../../memory/guest_memory.ts`). `lessons/NN-slug/` and
 * `<repo>/workspace/NN-slug/` are both two levels below the repository, so
 * those paths resolve from both places unchanged; a workspace elsewhere gets
 * each relative specifier rewritten to point back at the same file (see
 * {@linkcode rewriteImports}).
 *
 * The workspace is created on first use and synced on every use: lessons
 * added to the course appear, a stub the learner never edited follows the
 * course, and a file the learner edited is never overwritten (only
 * `lab reset` does that, after keeping a backup).
 *
 * @module
 */

import * as path from "node:path";
import type { Course, Lesson } from "./manifest.ts";
import { emptyState, type LabState, type LessonProgress, readState, writeState } from "./state.ts";
import { type GradeReport, isCompletePass } from "./grade_report.ts";
import { PROTOCOL_VERSION } from "./sandbox/protocol.ts";
import {
  defaultWorkspaceDir,
  ENGINE_DIR,
  findDenoConfig,
  isInside,
  relativeSpecifier,
  WORKSPACE_ENV,
} from "./paths.ts";
import { CourseError } from "./errors.ts";

/** What {@linkcode Workspace.sync} did. */
export interface SyncResult {
  /** Files created (absolute paths). */
  readonly created: readonly string[];
  /** Untouched exercise files replaced by a newer stub (absolute paths). */
  readonly updated: readonly string[];
  /** Lessons whose stub changed after the learner edited their copy (their file was kept). */
  readonly stubChanged: readonly Lesson[];
}

/** What {@linkcode Workspace.reset} did. */
export interface ResetResult {
  /** The lessons restored to their stub. */
  readonly restored: readonly Lesson[];
  /** Where the overwritten files were kept, or `null` when nothing needed keeping. */
  readonly backupDir: string | null;
}

const README = `# Your virtio-lab workspace

This folder is yours: the course never overwrites what you write here.

- \`NN-slug/exercise.ts\`: your exercise for lesson NN (started from the course's stub).
- \`NN-slug/exercise_test.ts\`: generated; \`deno test\` runs the lesson's grader on your
  exercise. Edit exercise.ts, not this file.
- \`.lab/state.json\`: your progress; \`.lab/backup/\`: what \`lab reset\` replaced.

Grade with \`deno task lab check N\`: out of process, in a sandbox (read-only, no network,
a time and a memory limit), and the only way a lesson is recorded as passed. Plain
\`deno test\` in this folder or in one lesson's folder runs the same checks for you to
experiment with; it records nothing.
`;

/** A learner's workspace for one course. */
export class Workspace {
  /** The course this workspace belongs to. */
  readonly course: Course;
  /** Absolute path of the workspace folder. */
  readonly dir: string;
  /** Absolute path of the state file. */
  readonly stateFile: string;
  /** One-line notices from loading the state (shown once by the CLI). */
  readonly warnings: string[] = [];
  #state: LabState | undefined;

  /**
   * Does not touch the disk; use {@linkcode Workspace.open} to create and sync.
   *
   * @param course The course.
   * @param dir Absolute path of the workspace folder (default: `$VIRTIO_LAB_WORKSPACE` or `<repo>/workspace`).
   */
  constructor(course: Course, dir: string = defaultWorkspaceDir(course.root)) {
    this.course = course;
    this.dir = path.resolve(dir);
    this.stateFile = path.join(this.dir, ".lab", "state.json");
  }

  /**
   * Opens a workspace, creating it from the stubs on first use and syncing it
   * with the course (see {@linkcode sync}).
   *
   * @param course The course.
   * @param dir The workspace folder (default: `$VIRTIO_LAB_WORKSPACE` or `<repo>/workspace`).
   * @throws {CourseError} When the state file was written by a newer engine.
   */
  static async open(course: Course, dir?: string): Promise<Workspace> {
    const ws = new Workspace(course, dir);
    ws.checkUsable();
    void ws.state; // load (and validate) before writing anything
    await ws.sync();
    return ws;
  }

  /**
   * Checks that the workspace folder can be used before anything reads or
   * writes it: it is a folder (or does not exist yet and can be created),
   * and the learner may write in it.
   *
   * @throws {CourseError} In one line, naming the folder and the way out.
   */
  checkUsable(): void {
    let info: Deno.FileInfo | null = null;
    try {
      info = Deno.statSync(this.dir);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw this.#unusable(error);
    }
    if (info !== null && !info.isDirectory) {
      throw new CourseError(
        `The workspace ${this.dir} is a file, not a folder: point ${WORKSPACE_ENV} at a folder ` +
          "(or unset it to use the course's own workspace/)",
      );
    }
    try {
      Deno.mkdirSync(this.dir, { recursive: true });
      const probe = Deno.makeTempFileSync({ dir: this.dir, prefix: ".lab-write-check-" });
      Deno.removeSync(probe);
    } catch (error) {
      throw this.#unusable(error);
    }
  }

  #unusable(error: unknown): CourseError {
    const why = error instanceof Deno.errors.PermissionDenied
      ? "you may not write there"
      : error instanceof Error
      ? error.message
      : String(error);
    return new CourseError(
      `The workspace ${this.dir} cannot be used (${why}): make it writable, or point ` +
        `${WORKSPACE_ENV} at a folder you own`,
    );
  }

  /** The workspace folder of a lesson. */
  lessonDir(lesson: Lesson): string {
    return path.join(this.dir, lesson.dir);
  }

  /** The learner's exercise file of a lesson. */
  exerciseFile(lesson: Lesson): string {
    return path.join(this.dir, lesson.dir, "exercise.ts");
  }

  /** The generated test file of a lesson. */
  testFile(lesson: Lesson): string {
    return path.join(this.dir, lesson.dir, "exercise_test.ts");
  }

  /**
   * The generated type check of a lesson's exports:
   * `.lab/types/NN-slug.ts` asserts that the learner's module has the stub's
   * exported names and types (the compile stage of grading checks it with
   * `exercise.ts`; the grader's own types are the stub's).
   */
  signatureFile(lesson: Lesson): string {
    return path.join(this.dir, ".lab", "types", `${lesson.dir}.ts`);
  }

  /** The text of {@linkcode signatureFile}. */
  signatureText(lesson: Lesson): string {
    const from = path.join(this.dir, ".lab", "types");
    const stub = relativeSpecifier(from, lesson.paths.exercise);
    const mine = relativeSpecifier(from, this.exerciseFile(lesson));
    return `// Generated by virtio-lab: your exercise.ts must export what the stub of lesson\n` +
      `// "${lesson.id}" exports, with the same types. Rewritten by the lab; do not edit.\n` +
      `import type * as Stub from "${stub}";\n` +
      `import * as Yours from "${mine}";\n\n` +
      `export const exportsMatchTheStub: typeof Stub = Yours;\n`;
  }

  /** Where `lab reset` keeps overwritten files. */
  get backupRoot(): string {
    return path.join(this.dir, ".lab", "backup");
  }

  /**
   * The progress state, loaded on first access.
   *
   * @throws {CourseError} When the file was written by a newer engine.
   */
  get state(): LabState {
    if (!this.#state) {
      const loaded = readState(this.stateFile, this.shown(this.stateFile));
      this.#state = loaded.state;
      this.warnings.push(...loaded.warnings);
    }
    return this.#state;
  }

  /** Progress on one lesson (an empty object when none). */
  progress(lesson: Lesson): LessonProgress {
    return this.state.lessons[lesson.id] ?? {};
  }

  /**
   * Changes the progress of a lesson and saves the state file. The grading
   * fields (`status`, `grading`, `passedAt`) are not among them: only
   * {@linkcode recordGrade} writes those.
   *
   * @param lesson The lesson.
   * @param patch Fields to set (`undefined` deletes a field).
   */
  update(
    lesson: Lesson,
    patch: Partial<Omit<LessonProgress, "status" | "grading" | "passedAt">>,
  ): void {
    const { status: _s, grading: _g, passedAt: _p, ...allowed } = patch as Partial<LessonProgress>;
    this.#update(lesson, allowed);
  }

  #update(lesson: Lesson, patch: Partial<LessonProgress>): void {
    const current = { ...this.progress(lesson), ...patch };
    for (const key of Object.keys(current) as (keyof LessonProgress)[]) {
      if (current[key] === undefined) delete current[key];
    }
    this.state.lessons[lesson.id] = current;
    this.state.lastLesson = lesson.id;
    this.save();
  }

  /**
   * Records the outcome of a grading in the progress state. The lesson is
   * recorded as passed only when the report is a complete pass
   * ({@linkcode isCompletePass}: every check the grader defines ran and
   * passed), whatever its `ok` says.
   *
   * @param lesson The lesson graded.
   * @param report The report of `gradeLesson`.
   */
  recordGrade(
    lesson: Lesson,
    report: Pick<GradeReport, "ok" | "stage" | "expected" | "passed" | "failed" | "tests">,
  ): void {
    const progress = this.progress(lesson);
    const now = new Date().toISOString();
    const passed = report.ok && isCompletePass(report);
    this.#update(lesson, {
      status: passed ? "passed" : "failed",
      grading: PROTOCOL_VERSION,
      checks: (progress.checks ?? 0) + 1,
      passed: report.passed,
      failed: report.failed,
      lastCheckedAt: now,
      passedAt: progress.passedAt ?? (passed ? now : undefined),
    });
  }

  /**
   * Marks hints as seen (hint numbers 1..`upTo`).
   *
   * @param lesson The lesson.
   * @param upTo The highest hint number shown.
   */
  recordHint(lesson: Lesson, upTo: number): void {
    const seen = this.progress(lesson).hintsSeen ?? 0;
    this.update(lesson, { hintsSeen: Math.max(seen, upTo) });
  }

  /** Writes the state file. */
  save(): void {
    writeState(this.stateFile, this.#state ?? emptyState());
  }

  /**
   * Brings the workspace up to date with the course: creates missing lesson
   * folders and exercise files from the stubs, regenerates `exercise_test.ts`
   * files, replaces exercise files the learner never edited when their stub
   * changed, and never touches one they edited.
   *
   * @returns What changed.
   */
  async sync(): Promise<SyncResult> {
    const created: string[] = [];
    const updated: string[] = [];
    const stubChanged: Lesson[] = [];
    let stateDirty = false;
    Deno.mkdirSync(path.join(this.dir, ".lab"), { recursive: true });
    const readme = path.join(this.dir, "README.md");
    if (!existsSync(readme)) {
      Deno.writeTextFileSync(readme, README);
      created.push(readme);
    }
    for (const lesson of this.course.lessons) {
      Deno.mkdirSync(this.lessonDir(lesson), { recursive: true });
      const stub = this.stubText(lesson);
      const stubHash = await hashText(stub);
      const exercise = this.exerciseFile(lesson);
      const progress = this.progress(lesson);
      const current = readTextOrNull(exercise);
      if (current === null) {
        Deno.writeTextFileSync(exercise, stub);
        created.push(exercise);
        this.state.lessons[lesson.id] = { ...progress, stubHash };
        stateDirty = true;
      } else if (progress.stubHash !== stubHash) {
        const currentHash = await hashText(current);
        if (currentHash === stubHash) {
          this.state.lessons[lesson.id] = { ...progress, stubHash };
          stateDirty = true;
        } else if (progress.stubHash !== undefined && currentHash === progress.stubHash) {
          // Never edited: follow the course.
          Deno.writeTextFileSync(exercise, stub);
          updated.push(exercise);
          this.state.lessons[lesson.id] = { ...progress, stubHash };
          stateDirty = true;
        } else if (progress.stubHash !== undefined) {
          stubChanged.push(lesson);
        }
      }
      for (
        const [file, text] of [
          [this.testFile(lesson), this.testText(lesson)],
          [this.signatureFile(lesson), this.signatureText(lesson)],
        ]
      ) {
        if (readTextOrNull(file) !== text) {
          if (!existsSync(file)) created.push(file);
          Deno.mkdirSync(path.dirname(file), { recursive: true });
          Deno.writeTextFileSync(file, text);
        }
      }
    }
    const config = this.configText();
    const configFile = path.join(this.dir, "deno.json");
    if (config !== null && readTextOrNull(configFile) !== config) {
      if (!existsSync(configFile)) created.push(configFile);
      Deno.writeTextFileSync(configFile, config);
    }
    if (stateDirty || !existsSync(this.stateFile)) this.save();
    return { created, updated, stubChanged };
  }

  /**
   * Restores lessons to their stub, keeping a copy of each overwritten file
   * under `.lab/backup/<time>/NN-slug/exercise.ts`. Progress on those lessons
   * is cleared except for the hints already seen.
   *
   * @param lessons The lessons to reset.
   * @returns What was restored and where the backup is.
   */
  async reset(lessons: readonly Lesson[]): Promise<ResetResult> {
    const stamp = new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
    let backupDir: string | null = null;
    for (const lesson of lessons) {
      const exercise = this.exerciseFile(lesson);
      const stub = this.stubText(lesson);
      const current = readTextOrNull(exercise);
      if (current !== null && current !== stub) {
        if (!backupDir) {
          backupDir = path.join(this.backupRoot, stamp);
          for (let n = 2; existsSync(backupDir); n++) {
            backupDir = path.join(this.backupRoot, `${stamp}-${n}`);
          }
        }
        Deno.mkdirSync(path.join(backupDir, lesson.dir), { recursive: true });
        Deno.writeTextFileSync(path.join(backupDir, lesson.dir, "exercise.ts"), current);
      }
      Deno.mkdirSync(this.lessonDir(lesson), { recursive: true });
      Deno.writeTextFileSync(exercise, stub);
      Deno.writeTextFileSync(this.testFile(lesson), this.testText(lesson));
      const hintsSeen = this.progress(lesson).hintsSeen;
      this.state.lessons[lesson.id] = { hintsSeen, stubHash: await hashText(stub) };
      if (hintsSeen === undefined) delete this.state.lessons[lesson.id].hintsSeen;
    }
    this.save();
    return { restored: lessons, backupDir };
  }

  /**
   * The `deno.json` of a workspace that lives outside the course (so plain
   * `deno test` there finds the course's compiler options and imports), or
   * `null` for a workspace inside the course, which uses the course's own.
   */
  configText(): string | null {
    if (isInside(this.dir, this.course.root)) return null;
    const source = findDenoConfig(this.course.root);
    let parsed: Record<string, unknown> = {};
    if (source) {
      try {
        parsed = JSON.parse(Deno.readTextFileSync(source)) as Record<string, unknown>;
      } catch {
        parsed = {};
      }
    }
    const config: Record<string, unknown> = { lock: false };
    if (parsed.compilerOptions) config.compilerOptions = parsed.compilerOptions;
    if (parsed.imports) config.imports = parsed.imports;
    return `// Generated by virtio-lab: this workspace lives outside the course, so it carries the\n` +
      `// course's compiler options and imports. The lab rewrites this file; do not edit it.\n` +
      `${JSON.stringify(config, null, 2)}\n`;
  }

  /** The stub of a lesson as it is written into this workspace (imports rewritten). */
  stubText(lesson: Lesson): string {
    return rewriteImports(
      Deno.readTextFileSync(lesson.paths.exercise),
      lesson.paths.dir,
      this.lessonDir(lesson),
    );
  }

  /** The generated `exercise_test.ts` of a lesson. */
  testText(lesson: Lesson): string {
    const from = this.lessonDir(lesson);
    const engine = relativeSpecifier(from, path.join(ENGINE_DIR, "deno_test.ts"));
    const grader = relativeSpecifier(from, lesson.paths.grader);
    return `// Generated by virtio-lab for lesson "${lesson.id}": \`deno test\` grades exercise.ts.\n` +
      `// The lab rewrites this file; edit exercise.ts, not this one.\n` +
      `import { registerGrader } from "${engine}";\n` +
      `import { grader } from "${grader}";\n\n` +
      `registerGrader(grader, import("./exercise.ts"));\n`;
  }

  /** A path relative to the workspace's parent, for messages (`workspace/01-x/exercise.ts`). */
  shown(file: string): string {
    const base = path.dirname(this.dir);
    return path.relative(base, file).split(path.sep).join("/");
  }
}

/**
 * Rewrites the relative module specifiers of a TypeScript file so they
 * resolve to the same files after the file moves from `fromDir` to `toDir`
 * (`import ... from "..."`, `export ... from "..."`, `import "..."`,
 * `import("...")`). Bare and URL specifiers are left alone. When both folders
 * are at the same depth of the same tree, paths that leave the folder (the
 * library, the engine) come out unchanged; a lesson-local `./helper.ts`
 * keeps pointing into the course.
 *
 * @param source The file's text.
 * @param fromDir The folder the file was written for.
 * @param toDir The folder it is copied to.
 */
export function rewriteImports(source: string, fromDir: string, toDir: string): string {
  const fix = (spec: string): string => {
    if (!spec.startsWith("./") && !spec.startsWith("../")) return spec;
    return relativeSpecifier(toDir, path.resolve(fromDir, spec));
  };
  return source
    .replace(
      /(\bfrom\s*|\bimport\s*(?:\(\s*)?)(["'])(\.{1,2}\/[^"'\n]*)\2/g,
      (_m, lead: string, quote: string, spec: string) => `${lead}${quote}${fix(spec)}${quote}`,
    );
}

/**
 * A short content hash (SHA-256, first 16 hex digits).
 *
 * @param text The text.
 */
export async function hashText(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

function readTextOrNull(file: string): string | null {
  try {
    return Deno.readTextFileSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function existsSync(file: string): boolean {
  try {
    Deno.statSync(file);
    return true;
  } catch {
    return false;
  }
}
