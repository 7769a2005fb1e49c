/**
 * Where things are: the course root (the repository: `lessons/`,
 * `notebooks/`, the library) and the learner's workspace.
 *
 * Every engine function takes these as parameters so tests can point them at
 * a fixture course and a temporary workspace; the defaults below are what the
 * `lab` command, the REPL and the notebooks use.
 *
 * The course needs its files on disk: the learner's exercise imports the
 * library, the graders run in sandboxed subprocesses that read the lesson
 * files, and the notebooks import modules by relative path. So when the
 * package is loaded from a URL (`deno install -g jsr:@virtio-lab/virtio-lab/cli`,
 * or `deno run https://.../cli/main.ts`) rather than from a clone, the course
 * root is a local copy of the package: {@linkcode prepareCourse} downloads
 * the files the package's `_meta.json` lists (JSR's layout: the version's
 * folder `.../<version>/` and its file list `.../<version>_meta.json`) into
 * {@linkcode courseCacheDir}, checking each file's SHA-256, once; the engine
 * then runs from that copy. The learner's workspace is then
 * `$VIRTIO_LAB_WORKSPACE` or `~/virtio-lab-workspace`, outside the cache.
 *
 * @module
 */

import { fileURLToPath, pathToFileURL } from "node:url";
import * as path from "node:path";

/** Environment variable naming the workspace folder (default `<repo>/workspace`). */
export const WORKSPACE_ENV = "VIRTIO_LAB_WORKSPACE";

/** Environment variable naming another course root (lesson authors and the engine's tests). */
export const COURSE_ENV = "VIRTIO_LAB_COURSE";

/**
 * Environment variable naming the folder that holds local copies of courses
 * loaded from a URL (default `$XDG_CACHE_HOME/virtio-lab` or `~/.cache/virtio-lab`).
 */
export const CACHE_ENV = "VIRTIO_LAB_CACHE";

/** The package's root, as loaded: a `file:` URL for a clone, else http(s). */
export const PACKAGE_URL: URL = new URL("..", import.meta.url);

/** Whether the package was loaded from local files (a clone) rather than a URL. */
export const LOADED_FROM_FILES: boolean = PACKAGE_URL.protocol === "file:";

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no env permission: the default
  }
}

/**
 * The folder that holds the local copy of a package loaded from `packageUrl`:
 * `<cache>/<host>/<path>`, e.g. `~/.cache/virtio-lab/jsr.io/@virtio-lab/virtio-lab/0.1.0`.
 *
 * @param packageUrl The package root URL (ends in `/`).
 * @param cacheRoot The cache folder (default `$VIRTIO_LAB_CACHE`, `$XDG_CACHE_HOME/virtio-lab`
 *   or `~/.cache/virtio-lab`).
 */
export function courseCacheDir(packageUrl: URL, cacheRoot: string = defaultCacheRoot()): string {
  const host = packageUrl.host.replace(/[^A-Za-z0-9.@_-]/g, "_");
  const parts = decodeURIComponent(packageUrl.pathname).split("/")
    .filter((p) => p && p !== "." && p !== "..")
    .map((p) => p.replace(/[^A-Za-z0-9.@_+-]/g, "_"));
  return path.join(cacheRoot, host, ...parts);
}

function defaultCacheRoot(): string {
  const explicit = env(CACHE_ENV);
  if (explicit) return path.resolve(explicit);
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return path.join(xdg, "virtio-lab");
  return path.join(env("HOME") ?? env("USERPROFILE") ?? ".", ".cache", "virtio-lab");
}

/**
 * Absolute path of the course's files on disk: this repository for a clone;
 * for a package loaded from a URL, its local copy (see
 * {@linkcode prepareCourse}, which fills it).
 */
export const REPO_ROOT: string = LOADED_FROM_FILES
  ? path.resolve(fileURLToPath(PACKAGE_URL))
  : courseCacheDir(PACKAGE_URL);

/** Absolute path of the course engine folder (`course/`) on disk. */
export const ENGINE_DIR: string = path.join(REPO_ROOT, "course");

/** The course root: `$VIRTIO_LAB_COURSE` if set (and env access is granted), else {@linkcode REPO_ROOT}. */
export function defaultCourseRoot(): string {
  const fromEnv = env(COURSE_ENV);
  return fromEnv ? path.resolve(fromEnv) : REPO_ROOT;
}

/**
 * The workspace folder to use for a course root: `$VIRTIO_LAB_WORKSPACE` if
 * set (and env access is granted), else `<courseRoot>/workspace` for a
 * clone, and `~/virtio-lab-workspace` for a course copied from a URL (so the
 * learner's work is not in a cache folder).
 *
 * @param courseRoot Absolute path of the course root.
 */
export function defaultWorkspaceDir(courseRoot: string = REPO_ROOT): string {
  const fromEnv = env(WORKSPACE_ENV);
  if (fromEnv) return path.resolve(fromEnv);
  if (!LOADED_FROM_FILES && courseRoot === REPO_ROOT) {
    return path.join(env("HOME") ?? env("USERPROFILE") ?? ".", "virtio-lab-workspace");
  }
  return path.join(courseRoot, "workspace");
}

/** The file {@linkcode fetchCourse} writes last, once every file is in place. */
export const COURSE_COPY_MARKER = ".virtio-lab-copy.json";

/** A course copy could not be made (the download failed or a file did not match its checksum). */
export class CourseFetchError extends Error {
  /** The URL that failed. */
  readonly url: string;

  /**
   * @param message What went wrong, with the URL.
   * @param url The URL that failed.
   * @param options The underlying error.
   */
  constructor(message: string, url: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CourseFetchError";
    this.url = url;
  }
}

/** What {@linkcode fetchCourse} did. */
export interface CourseCopy {
  /** The folder holding the copy. */
  readonly dir: string;
  /** Files downloaded now (0 when the copy was complete already). */
  readonly fetched: number;
}

/** The file list of a JSR package version (`<version>_meta.json`), the fields used here. */
interface PackageMeta {
  readonly manifest: Record<string, { readonly size?: number; readonly checksum?: string }>;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Copies a package published in JSR's layout into a local folder: reads the
 * file list `<packageUrl without its last slash>_meta.json`, downloads every
 * file under `packageUrl`, checks each against its `sha256-` checksum, and
 * writes {@linkcode COURSE_COPY_MARKER} last. A complete copy is left alone;
 * an incomplete one (an interrupted or refused download) is downloaded again.
 *
 * @param packageUrl The package root, e.g. `https://jsr.io/@virtio-lab/virtio-lab/0.1.0/`.
 * @param dir The folder to fill.
 * @param options `log` receives one line before a download starts (default: stderr).
 * @returns The folder and how many files were downloaded.
 * @throws {CourseFetchError} If the list or a file cannot be fetched, a path
 *   in the list leaves the package, or a file does not match its checksum.
 */
export async function fetchCourse(
  packageUrl: URL,
  dir: string,
  options: { readonly log?: (line: string) => void } = {},
): Promise<CourseCopy> {
  if (exists(path.join(dir, COURSE_COPY_MARKER))) return { dir, fetched: 0 };
  const metaUrl = `${packageUrl.href.replace(/\/$/, "")}_meta.json`;
  const meta = await fetchBytes(metaUrl).then((b) => {
    try {
      return JSON.parse(new TextDecoder().decode(b)) as PackageMeta;
    } catch (error) {
      throw new CourseFetchError(`${metaUrl} is not JSON`, metaUrl, { cause: error });
    }
  });
  const files = Object.entries(meta.manifest ?? {});
  if (files.length === 0) {
    throw new CourseFetchError(`${metaUrl} lists no files (no "manifest")`, metaUrl);
  }
  (options.log ?? ((line) => console.error(line)))(
    `virtio-lab: copying the course (${files.length} files) from ${packageUrl.href} to ${dir}`,
  );
  let next = 0;
  let fetched = 0;
  let failed = false;
  const worker = async () => {
    while (next < files.length && !failed) {
      const [name, info] = files[next++];
      const target = path.resolve(dir, `.${name}`);
      if (!isInside(target, dir) || target === path.resolve(dir)) {
        throw new CourseFetchError(`${metaUrl} lists a path outside the package: ${name}`, metaUrl);
      }
      const url = new URL(`.${name}`, packageUrl).href;
      const bytes = await fetchBytes(url);
      const expected = info.checksum?.replace(/^sha256-/, "");
      if (expected && (await sha256Hex(bytes)) !== expected) {
        throw new CourseFetchError(`${url} does not match its checksum in ${metaUrl}`, url);
      }
      Deno.mkdirSync(path.dirname(target), { recursive: true });
      Deno.writeFileSync(target, bytes);
      fetched++;
    }
  };
  // Eight downloads at a time; the first failure stops the others.
  await Promise.all(
    Array.from({ length: Math.min(8, files.length) }, () =>
      worker().catch((error) => {
        failed = true;
        throw error;
      })),
  );
  Deno.writeTextFileSync(
    path.join(dir, COURSE_COPY_MARKER),
    `${JSON.stringify({ source: packageUrl.href, files: files.length }, null, 2)}\n`,
  );
  return { dir, fetched };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new CourseFetchError(
      `Cannot fetch ${url}: ${(error as Error).message}`,
      url,
      { cause: error },
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new CourseFetchError(`Cannot fetch ${url}: HTTP ${response.status}`, url);
  }
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Makes sure the course's files are on disk and returns the course root:
 * for a clone (or with `$VIRTIO_LAB_COURSE`), {@linkcode defaultCourseRoot}
 * as it is; for a package loaded from a URL, its local copy, downloaded on
 * first use by {@linkcode fetchCourse}.
 *
 * @throws {CourseFetchError} If the copy cannot be made.
 */
export async function prepareCourse(): Promise<string> {
  const root = defaultCourseRoot();
  if (LOADED_FROM_FILES || root !== REPO_ROOT) return root;
  await fetchCourse(PACKAGE_URL, REPO_ROOT);
  return root;
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
