/**
 * The learner's progress: `workspace/.lab/state.json`, a small versioned
 * file keyed by lesson id.
 *
 * ```json
 * { "version": 1,
 *   "lessons": { "mmio-window": { "status": "passed", "hintsSeen": 1, "checks": 4,
 *                                 "lastCheckedAt": "2026-01-01T10:00:00.000Z", ... } },
 *   "lastLesson": "mmio-window" }
 * ```
 *
 * - Ids the course no longer has are kept in the file but ignored, so a
 *   curriculum change never strands progress.
 * - A file from a newer engine (a higher `version`) is refused with one line
 *   rather than rewritten.
 * - A corrupt file is moved aside to `state.json.bak` and reported in one
 *   line; progress starts fresh.
 * - A pass counts only when authenticated grading recorded it (`grading` at
 *   least {@linkcode TRUSTED_GRADING}): a pass recorded by an older engine,
 *   whose grading the learner's code could fool, is dropped with a one-line
 *   notice, so `lab status`, `lab solution` and `lab boot --mine` never see it.
 *
 * @module
 */

import * as path from "node:path";
import { CourseError } from "./errors.ts";

/** The state format this engine reads and writes. */
export const STATE_VERSION = 1;

/**
 * The first grading protocol whose results are authenticated (nonce-signed
 * records from a sandboxed harness, checked against the grader's own list of
 * checks): a recorded pass counts only when it came from this protocol or a
 * later one.
 */
export const TRUSTED_GRADING = 2;

/** Progress on one lesson. Every field is optional: absent means "not yet". */
export interface LessonProgress {
  /** Result of the last grading (`passed` only from an authenticated, complete set of results). */
  status?: "passed" | "failed";
  /** The grading protocol that recorded `status` (see {@linkcode TRUSTED_GRADING}). */
  grading?: number;
  /** How many hints were shown (hint numbers 1..hintsSeen). */
  hintsSeen?: number;
  /** How many times the lesson was graded through `lab`. */
  checks?: number;
  /** Checks passed / failed at the last grading. */
  passed?: number;
  /** Checks failed at the last grading. */
  failed?: number;
  /** ISO time of the last grading. */
  lastCheckedAt?: string;
  /** ISO time the lesson first passed. */
  passedAt?: string;
  /** Hash of the stub last copied into the workspace (to spot untouched files when a stub changes). */
  stubHash?: string;
}

/** The whole state file. */
export interface LabState {
  /** Always {@linkcode STATE_VERSION} when written by this engine. */
  version: number;
  /** Progress by lesson id (ids unknown to the course are kept and ignored). */
  lessons: Record<string, LessonProgress>;
  /** The id of the lesson last worked on. */
  lastLesson?: string;
}

/** What {@linkcode readState} returns. */
export interface LoadedState {
  /** The state (fresh when the file was missing or corrupt). */
  readonly state: LabState;
  /** One-line notices for the learner (a corrupt file moved aside). */
  readonly warnings: readonly string[];
}

/** A fresh, empty state. */
export function emptyState(): LabState {
  return { version: STATE_VERSION, lessons: {} };
}

/**
 * Reads a state file.
 *
 * @param file Absolute path of `state.json`.
 * @param shown How to name the file in messages.
 * @returns The state and any warnings; a missing file gives an empty state.
 * @throws {CourseError} When the file was written by a newer engine.
 */
export function readState(file: string, shown: string = file): LoadedState {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { state: emptyState(), warnings: [] };
    throw error;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return moveAside(file, shown, `is not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return moveAside(file, shown, "is not a JSON object");
  }
  const record = raw as Record<string, unknown>;
  const version = record.version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    return moveAside(file, shown, 'has no valid "version"');
  }
  if (version > STATE_VERSION) {
    throw new CourseError(
      `${shown} was written by a newer virtio-lab (state version ${version}; this one reads ` +
        `${STATE_VERSION}): update the course (git pull) or move the file away to start over`,
    );
  }
  const lessonsRaw = record.lessons;
  if (typeof lessonsRaw !== "object" || lessonsRaw === null || Array.isArray(lessonsRaw)) {
    return moveAside(file, shown, 'has no "lessons" object');
  }
  const lessons: Record<string, LessonProgress> = {};
  const warnings: string[] = [];
  for (const [id, value] of Object.entries(lessonsRaw as Record<string, unknown>)) {
    const progress = sanitizeProgress(value);
    if (progress.status === "passed" && !((progress.grading ?? 0) >= TRUSTED_GRADING)) {
      delete progress.status;
      delete progress.passedAt;
      warnings.push(
        `${shown}: the pass of lesson "${id}" was recorded before grading was authenticated, ` +
          `so it no longer counts: check the lesson again`,
      );
    }
    lessons[id] = progress;
  }
  const state: LabState = { version: STATE_VERSION, lessons };
  if (typeof record.lastLesson === "string") state.lastLesson = record.lastLesson;
  return { state, warnings };
}

/**
 * Writes a state file atomically (write a temporary file, then rename).
 *
 * @param file Absolute path of `state.json`.
 * @param state The state.
 */
export function writeState(file: string, state: LabState): void {
  Deno.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${Deno.pid}.tmp`;
  const ordered: LabState = { version: STATE_VERSION, lessons: state.lessons };
  if (state.lastLesson) ordered.lastLesson = state.lastLesson;
  Deno.writeTextFileSync(tmp, `${JSON.stringify(ordered, null, 2)}\n`);
  Deno.renameSync(tmp, file);
}

function moveAside(file: string, shown: string, problem: string): LoadedState {
  const bak = `${file}.bak`;
  Deno.renameSync(file, bak);
  return {
    state: emptyState(),
    warnings: [
      `${shown} ${problem}: kept it as ${path.basename(bak)} and started fresh progress`,
    ],
  };
}

function sanitizeProgress(value: unknown): LessonProgress {
  const out: LessonProgress = {};
  if (typeof value !== "object" || value === null) return out;
  const v = value as Record<string, unknown>;
  if (v.status === "passed" || v.status === "failed") out.status = v.status;
  for (const key of ["hintsSeen", "checks", "passed", "failed", "grading"] as const) {
    const n = v[key];
    if (typeof n === "number" && Number.isInteger(n) && n >= 0) out[key] = n;
  }
  for (const key of ["lastCheckedAt", "passedAt", "stubHash"] as const) {
    const s = v[key];
    if (typeof s === "string") out[key] = s;
  }
  return out;
}
