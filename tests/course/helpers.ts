/**
 * Shared helpers of the engine's tests: the fixture course and throwaway
 * workspaces (temporary folders, never a learner's real workspace).
 *
 * @module
 */

import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type Course, type Lesson, loadCourse } from "../../course/manifest.ts";
import { rewriteImports, Workspace } from "../../course/workspace.ts";

/** Absolute path of the fixture course. */
export const FIXTURE_ROOT: string = fileURLToPath(new URL("../fixtures/course", import.meta.url));

/** Absolute path of this repository. */
export const REPO: string = fileURLToPath(new URL("../..", import.meta.url));

/** The fixture course, loaded. */
export function fixtureCourse(): Course {
  return loadCourse(FIXTURE_ROOT);
}

/** A fresh workspace for the fixture course in a temporary folder. */
export async function tempWorkspace(course: Course = fixtureCourse()): Promise<Workspace> {
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-test-ws-" });
  return await Workspace.open(course, dir);
}

/**
 * Replaces the learner's exercise of a lesson with one of the fixture's
 * variants (`tests/fixtures/course/variants/<dir>/<name>.ts`), imports rewritten.
 */
export function useVariant(workspace: Workspace, lesson: Lesson, name: string): void {
  const dir = path.join(FIXTURE_ROOT, "variants", lesson.dir);
  const source = Deno.readTextFileSync(path.join(dir, `${name}.ts`));
  Deno.writeTextFileSync(
    workspace.exerciseFile(lesson),
    rewriteImports(source, dir, workspace.lessonDir(lesson)),
  );
}

/** Removes a temporary folder (ignoring errors). */
export async function removeDir(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** Runs a command and returns its exit code and output. */
export async function runCommand(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }, options.timeoutMs ?? 120_000);
  const out = await child.output().finally(() => clearTimeout(timer));
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}
