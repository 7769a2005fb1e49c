/**
 * Where things are: the course root (the repository: `lessons/`,
 * `notebooks/`, the library) and the learner's workspace.
 *
 * Every engine function takes these as parameters so tests can point them at
 * a fixture course and a temporary workspace; the defaults below are what the
 * `lab` command, the REPL and the notebooks use.
 *
 * @module
 */

import { fileURLToPath, pathToFileURL } from "node:url";
import * as path from "node:path";

/** Environment variable naming the workspace folder (default `<repo>/workspace`). */
export const WORKSPACE_ENV = "VIRTIO_LAB_WORKSPACE";

/** Environment variable naming another course root (lesson authors and the engine's tests). */
export const COURSE_ENV = "VIRTIO_LAB_COURSE";

/** Absolute path of this repository (the default course root). */
export const REPO_ROOT: string = path.resolve(fileURLToPath(new URL("..", import.meta.url)));

/** Absolute path of the course engine folder (`course/`). */
export const ENGINE_DIR: string = path.resolve(fileURLToPath(new URL(".", import.meta.url)));

/** The course root: `$VIRTIO_LAB_COURSE` if set (and env access is granted), else this repository. */
export function defaultCourseRoot(): string {
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get(COURSE_ENV);
  } catch {
    fromEnv = undefined;
  }
  return fromEnv ? path.resolve(fromEnv) : REPO_ROOT;
}

/**
 * The workspace folder to use for a course root: `$VIRTIO_LAB_WORKSPACE` if
 * set (and env access is granted), else `<courseRoot>/workspace`.
 *
 * @param courseRoot Absolute path of the course root.
 */
export function defaultWorkspaceDir(courseRoot: string = REPO_ROOT): string {
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get(WORKSPACE_ENV);
  } catch {
    fromEnv = undefined; // no env permission: use the default
  }
  return fromEnv ? path.resolve(fromEnv) : path.join(courseRoot, "workspace");
}

/** `path.relative` with forward slashes and a leading `./` for same-folder paths. */
export function relativeSpecifier(fromDir: string, toFile: string): string {
  let rel = path.relative(fromDir, toFile).split(path.sep).join("/");
  if (!rel.startsWith(".")) rel = `./${rel}`;
  return rel;
}

/**
 * A path for display: relative to `base` when inside it, else absolute.
 *
 * @param file Absolute path.
 * @param base Absolute folder, usually the current directory or the course root.
 */
export function displayPath(file: string, base: string = safeCwd()): string {
  const rel = path.relative(base, file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel)
    ? rel.split(path.sep).join("/")
    : file;
}

/** `Deno.cwd()`, or `/` when reading it is not allowed. */
export function safeCwd(): string {
  try {
    return Deno.cwd();
  } catch {
    return "/";
  }
}

/** A `file:` URL string for an absolute path. */
export function fileUrl(file: string): string {
  return pathToFileURL(file).href;
}

/** Whether a path exists (no permission to look counts as "no"). */
export function exists(file: string): boolean {
  try {
    Deno.statSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `deno.json` that governs a folder: the nearest one in it or above it.
 *
 * @param start Absolute folder to start from.
 * @returns Its absolute path, or `null` when there is none.
 */
export function findDenoConfig(start: string): string | null {
  let dir = path.resolve(start);
  for (;;) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const file = path.join(dir, name);
      if (exists(file)) return file;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Whether `inner` is `outer` or inside it. */
export function isInside(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}
