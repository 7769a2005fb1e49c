/**
 * The course layout: `lessons/manifest.json` (stable lesson ids, in course
 * order) and, per lesson, `lessons/NN-slug/` with `lesson.json` (metadata),
 * `lesson.md` (the text), `hints.md` (progressive hints), `exercise.ts` (the
 * stub), `reference.ts` (the stub's names bound to the library) and
 * `grader.ts` (the checks). `lessons/README.md` is the authoring guide.
 *
 * Lesson numbers shown to people are positions in the manifest (1..N); ids
 * are what progress is keyed by, so reordering or inserting lessons never
 * strands a learner's progress.
 *
 * @module
 */

import * as path from "node:path";
import { findRequirement, SECTION_TITLES } from "../conformance/requirements.ts";
import { featureBit, type WithheldFeature } from "./features.ts";
import { findPart, type PartKey } from "../parts.ts";
import { CourseFormatError, LessonNotFoundError } from "./errors.ts";
import { REPO_ROOT } from "./paths.ts";

/** The manifest format this engine reads. */
export const MANIFEST_VERSION = 1;

/** One entry of `lessons/manifest.json`. */
export interface ManifestEntry {
  /** Stable slug, e.g. `"mmio-window"`: progress is keyed by it; never rename a published id. */
  readonly id: string;
  /** Folder under `lessons/`, e.g. `"01-mmio-window"` (also the workspace folder and notebook name). */
  readonly dir: string;
}

/** Where the reference implementation of some exported names lives in the library. */
export interface SolutionRef {
  /** Library file relative to the course root, e.g. `"transport/mmio_registers.ts"`. */
  readonly file: string;
  /** Exported declarations of that file to show, e.g. `["MmioRegisterFile"]`. */
  readonly symbols: readonly string[];
}

/** `lessons/NN-slug/lesson.json`, as written by an author. */
export interface LessonJson {
  /** Title, e.g. `"The MMIO register window"`. */
  readonly title: string;
  /** One or two sentences: what the learner builds. */
  readonly summary: string;
  /** What the learner can do afterwards, one sentence each. */
  readonly objectives: readonly string[];
  /** Spec section numbers the lesson covers, e.g. `["4.2.2"]`. */
  readonly sections: readonly string[];
  /** Requirement ids taught (must exist in `conformance/requirements.ts`). */
  readonly requirements: readonly string[];
  /** Estimated time, in minutes. */
  readonly minutes: number;
  /** Names `exercise.ts` (and `reference.ts`) must export. */
  readonly exports: readonly string[];
  /**
   * The registry parts (`parts.ts`) the exercise provides, by key, e.g.
   * `"transport.driver.probeWindow"`: each one's name is among
   * {@linkcode exports}. Once the lesson passes, `--mine` runs these parts of
   * the learner's in the lab machine. May be empty (a lesson of pure functions).
   */
  readonly parts: readonly PartKey[];
  /**
   * More library declarations `lab solution` shows besides the parts (whose
   * reference code it finds through `reference.ts`).
   */
  readonly solution: readonly SolutionRef[];
}

/** Absolute paths of one lesson's files. */
export interface LessonPaths {
  /** `lessons/NN-slug/`. */
  readonly dir: string;
  /** `lesson.json`. */
  readonly json: string;
  /** `lesson.md`. */
  readonly text: string;
  /** `hints.md`. */
  readonly hints: string;
  /** `exercise.ts`, the pristine stub. */
  readonly exercise: string;
  /** `reference.ts`, the stub's names bound to the library. */
  readonly reference: string;
  /** `grader.ts`, exporting `grader`. */
  readonly grader: string;
  /** `notebooks/NN-slug.ipynb`. */
  readonly notebook: string;
}

/** A lesson, loaded and validated. */
export interface Lesson extends LessonJson {
  /** Stable id. */
  readonly id: string;
  /** Folder name, e.g. `"01-mmio-window"`. */
  readonly dir: string;
  /** Position in the course, 1-based: what people type (`lab check 1`). */
  readonly number: number;
  /** Hint texts (Markdown), hint 1 first. */
  readonly hints: readonly string[];
  /** Absolute paths of the lesson's files. */
  readonly paths: LessonPaths;
}

/** A loaded course. */
export interface Course {
  /** Absolute course root (the repository). */
  readonly root: string;
  /** Absolute `lessons/` folder. */
  readonly lessonsDir: string;
  /** Absolute `notebooks/` folder. */
  readonly notebooksDir: string;
  /** Manifest format version. */
  readonly version: number;
  /**
   * Features the lab machine withholds from the learner's code until the
   * lesson that teaches them passes (`manifest.json` → `features`; see
   * `course/features.ts`).
   */
  readonly features: readonly WithheldFeature[];
  /** Lessons in course order. */
  readonly lessons: readonly Lesson[];
}

const ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const DIR_PATTERN = /^\d{2}-[a-z0-9]+(?:-[a-z0-9]+)*$/;
const SECTION_PATTERN = /^\d+(?:\.\d+)*$/;

/**
 * Loads and validates a course: the manifest, each lesson's `lesson.json` and
 * `hints.md`, and the presence of the lesson files.
 *
 * @param courseRoot The course root (default: this repository); a relative path is resolved
 *   against the current directory.
 * @returns The course, lessons in manifest order.
 * @throws {CourseFormatError} On a missing or malformed file, a duplicate id
 *   or folder, an unknown requirement id, or a manifest version this engine
 *   does not read.
 */
export function loadCourse(courseRoot: string = REPO_ROOT): Course {
  const root = path.resolve(courseRoot);
  const lessonsDir = path.join(root, "lessons");
  const manifestPath = path.join(lessonsDir, "manifest.json");
  const rel = (file: string) => path.relative(root, file).split(path.sep).join("/");
  const raw = readJson(manifestPath, rel(manifestPath));
  if (!isRecord(raw)) throw new CourseFormatError(rel(manifestPath), "must be a JSON object");
  if (raw.version !== MANIFEST_VERSION) {
    throw new CourseFormatError(
      rel(manifestPath),
      typeof raw.version === "number" && raw.version > MANIFEST_VERSION
        ? `manifest version ${raw.version} is newer than this engine reads (${MANIFEST_VERSION}): update virtio-lab`
        : `"version" must be ${MANIFEST_VERSION}`,
    );
  }
  if (!Array.isArray(raw.lessons)) {
    throw new CourseFormatError(rel(manifestPath), `"lessons" must be an array`);
  }
  const ids = new Set<string>();
  const dirs = new Set<string>();
  const lessons: Lesson[] = raw.lessons.map((entry: unknown, i: number) => {
    const where = `${rel(manifestPath)} lessons[${i}]`;
    if (!isRecord(entry) || typeof entry.id !== "string" || typeof entry.dir !== "string") {
      throw new CourseFormatError(where, `must be { "id": string, "dir": string }`);
    }
    if (!ID_PATTERN.test(entry.id)) {
      throw new CourseFormatError(
        where,
        `id "${entry.id}" must be a lowercase slug like "mmio-window"`,
      );
    }
    if (!DIR_PATTERN.test(entry.dir)) {
      throw new CourseFormatError(where, `dir "${entry.dir}" must look like "01-mmio-window"`);
    }
    if (ids.has(entry.id)) throw new CourseFormatError(where, `duplicate id "${entry.id}"`);
    if (dirs.has(entry.dir)) throw new CourseFormatError(where, `duplicate dir "${entry.dir}"`);
    ids.add(entry.id);
    dirs.add(entry.dir);
    return loadLesson(root, lessonsDir, entry.id, entry.dir, i + 1, rel);
  });
  const features = parseFeatures(raw.features, rel(manifestPath), ids);
  return {
    root,
    lessonsDir,
    notebooksDir: path.join(root, "notebooks"),
    version: MANIFEST_VERSION,
    features,
    lessons,
  };
}

function parseFeatures(
  value: unknown,
  file: string,
  lessonIds: ReadonlySet<string>,
): WithheldFeature[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new CourseFormatError(file, `"features" must be an array of { "name", "unlockedBy" }`);
  }
  const seen = new Set<string>();
  return value.map((f: unknown, i: number) => {
    const where = `features[${i}]`;
    if (!isRecord(f) || typeof f.name !== "string") {
      throw new CourseFormatError(file, `${where} must be { "name": string, "unlockedBy": ... }`);
    }
    if (featureBit(f.name) === undefined) {
      throw new CourseFormatError(
        file,
        `${where}: "${f.name}" is not a feature bit name the course can withhold, such as "VIRTIO_F_EVENT_IDX"`,
      );
    }
    if (seen.has(f.name)) throw new CourseFormatError(file, `${where}: "${f.name}" twice`);
    seen.add(f.name);
    const by = f.unlockedBy;
    if (by !== null && (typeof by !== "string" || !lessonIds.has(by))) {
      throw new CourseFormatError(
        file,
        `${where}: "unlockedBy" must be the id of a lesson of the manifest, or null while ` +
          `the lesson that teaches ${f.name} is not written`,
      );
    }
    return { name: f.name, unlockedBy: by };
  });
}

function loadLesson(
  root: string,
  lessonsDir: string,
  id: string,
  dir: string,
  number: number,
  rel: (file: string) => string,
): Lesson {
  const base = path.join(lessonsDir, dir);
  const paths: LessonPaths = {
    dir: base,
    json: path.join(base, "lesson.json"),
    text: path.join(base, "lesson.md"),
    hints: path.join(base, "hints.md"),
    exercise: path.join(base, "exercise.ts"),
    reference: path.join(base, "reference.ts"),
    grader: path.join(base, "grader.ts"),
    notebook: path.join(root, "notebooks", `${dir}.ipynb`),
  };
  for (const file of [paths.text, paths.exercise, paths.reference, paths.grader]) {
    try {
      Deno.statSync(file);
    } catch {
      throw new CourseFormatError(
        rel(file),
        "is missing (every lesson folder has lesson.json, " +
          "lesson.md, hints.md, exercise.ts, reference.ts and grader.ts)",
      );
    }
  }
  const meta = parseLessonJson(readJson(paths.json, rel(paths.json)), rel(paths.json));
  let hintsText: string;
  try {
    hintsText = Deno.readTextFileSync(paths.hints);
  } catch {
    throw new CourseFormatError(rel(paths.hints), "is missing");
  }
  const hints = parseHints(hintsText, rel(paths.hints));
  return { ...meta, id, dir, number, hints, paths };
}

/**
 * Validates the contents of a `lesson.json`.
 *
 * @param value Parsed JSON.
 * @param file The file name, for messages.
 * @throws {CourseFormatError} On a missing or mistyped field or an unknown requirement id.
 */
export function parseLessonJson(value: unknown, file: string): LessonJson {
  if (!isRecord(value)) throw new CourseFormatError(file, "must be a JSON object");
  const str = (key: string): string => {
    const v = value[key];
    if (typeof v !== "string" || v.trim() === "") {
      throw new CourseFormatError(file, `"${key}" must be a non-empty string`);
    }
    return v;
  };
  const strings = (key: string, allowEmpty = false): string[] => {
    const v = value[key];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x.trim() === "")) {
      throw new CourseFormatError(file, `"${key}" must be an array of non-empty strings`);
    }
    if (!allowEmpty && v.length === 0) {
      throw new CourseFormatError(file, `"${key}" must not be empty`);
    }
    return v as string[];
  };
  const sections = strings("sections");
  for (const s of sections) {
    if (!SECTION_PATTERN.test(s)) {
      throw new CourseFormatError(
        file,
        `section "${s}" must be a spec section number like "4.2.2"`,
      );
    }
  }
  const requirements = strings("requirements");
  for (const id of requirements) {
    if (!findRequirement(id)) {
      throw new CourseFormatError(
        file,
        `requirement "${id}" is not in conformance/requirements.ts`,
      );
    }
  }
  const minutes = value.minutes;
  if (typeof minutes !== "number" || !Number.isFinite(minutes) || minutes <= 0) {
    throw new CourseFormatError(file, `"minutes" must be a positive number`);
  }
  const solutionRaw = value.solution ?? [];
  if (!Array.isArray(solutionRaw)) {
    throw new CourseFormatError(file, `"solution" must be an array of { "file", "symbols" }`);
  }
  const solution: SolutionRef[] = solutionRaw.map((s: unknown, i: number) => {
    if (
      !isRecord(s) || typeof s.file !== "string" || !Array.isArray(s.symbols) ||
      s.symbols.length === 0 || s.symbols.some((x) => typeof x !== "string")
    ) {
      throw new CourseFormatError(
        file,
        `solution[${i}] must be { "file": "<library file>", "symbols": ["<exported name>", ...] }`,
      );
    }
    if (s.file.startsWith("lessons/") || path.isAbsolute(s.file)) {
      throw new CourseFormatError(
        file,
        `solution[${i}].file must be a library file relative to the repository, not "${s.file}"`,
      );
    }
    return { file: s.file, symbols: s.symbols as string[] };
  });
  const exports = strings("exports");
  const optionalStrings = (key: string): string[] =>
    value[key] === undefined ? [] : strings(key, true);
  const parts = optionalStrings("parts").map((key) => {
    const part = findPart(key);
    if (!part || part.key !== key) {
      throw new CourseFormatError(
        file,
        `part "${key}" is not a key of the parts registry (parts.ts), such as ` +
          `"transport.driver.probeWindow"`,
      );
    }
    if (!exports.includes(part.name)) {
      throw new CourseFormatError(file, `part "${key}" is not in "exports" (add "${part.name}")`);
    }
    return part.key;
  });
  if (parts.length === 0 && solution.length === 0) {
    throw new CourseFormatError(file, `needs "parts" or "solution": what lab solution shows`);
  }
  return {
    title: str("title"),
    summary: str("summary"),
    objectives: strings("objectives"),
    sections,
    requirements,
    minutes,
    exports,
    parts,
    solution,
  };
}

/**
 * Splits `hints.md` into hints: sections headed `## Hint 1`, `## Hint 2`...
 * (numbered from 1, in order, 2 to 4 of them). Text before the first heading
 * is ignored.
 *
 * @param text The file's contents.
 * @param file The file name, for messages.
 * @returns Each hint's Markdown body, trimmed.
 * @throws {CourseFormatError} On missing, misnumbered or empty hints, or fewer than 2 / more than 4.
 */
export function parseHints(text: string, file: string): string[] {
  const hints: string[] = [];
  const parts = text.replace(/\r\n/g, "\n").split(/^## +Hint +(\d+) *$/m);
  // parts: [preamble, n1, body1, n2, body2, ...]
  for (let i = 1; i < parts.length; i += 2) {
    const n = Number(parts[i]);
    if (n !== hints.length + 1) {
      throw new CourseFormatError(
        file,
        `expected "## Hint ${hints.length + 1}", found "## Hint ${n}"`,
      );
    }
    const body = parts[i + 1].trim();
    if (body === "") throw new CourseFormatError(file, `hint ${n} is empty`);
    hints.push(body);
  }
  if (hints.length < 2 || hints.length > 4) {
    throw new CourseFormatError(
      file,
      `needs 2 to 4 sections headed "## Hint 1", "## Hint 2"... (found ${hints.length})`,
    );
  }
  return hints;
}

/**
 * Finds a lesson by what a person typed: its number (`"1"`, `"01"`), its id
 * (`"mmio-window"`) or its folder name (`"01-mmio-window"`).
 *
 * @param course The loaded course.
 * @param ref Number or string as typed.
 * @throws {LessonNotFoundError} When nothing matches (the message lists the valid ids).
 */
export function findLesson(course: Course, ref: string | number): Lesson {
  const text = String(ref).trim();
  let found: Lesson | undefined;
  if (/^\d+$/.test(text)) found = course.lessons[Number(text) - 1];
  found ??= course.lessons.find((l) => l.id === text || l.dir === text);
  if (!found) throw new LessonNotFoundError(text, course.lessons.map((l) => l.id));
  return found;
}

/** The title of a spec section, or `§N` when this project does not list it. */
export function sectionTitle(section: string): string {
  return SECTION_TITLES[section] ?? `§${section}`;
}

function readJson(file: string, shown: string): unknown {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    throw new CourseFormatError(
      shown,
      error instanceof Deno.errors.NotFound ? "is missing" : `cannot be read (${String(error)})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CourseFormatError(shown, `is not valid JSON (${(error as Error).message})`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
