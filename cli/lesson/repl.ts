/**
 * `lab repl [N]`: a Deno REPL with the lab preloaded (`cli/repl_prelude.ts`).
 *
 * @module
 */

import * as path from "node:path";
import { REPO_ROOT, WORKSPACE_ENV } from "../../course/paths.ts";
import { COURSE_ENV } from "../../course/paths.ts";
import type { Lesson } from "../../course/manifest.ts";
import type { LabContext } from "./context.ts";

/** Environment variable telling the prelude which lesson to load. */
export const REPL_LESSON_ENV = "VIRTIO_LAB_LESSON";

/** The prelude file, evaluated when the REPL starts. */
export const PRELUDE: string = path.join(REPO_ROOT, "cli", "repl_prelude.ts");

/**
 * The command line that starts the REPL.
 *
 * @param ctx Course and workspace.
 * @param lesson The lesson to preload.
 */
export function replCommand(
  ctx: LabContext,
  lesson: Lesson,
): { args: string[]; env: Record<string, string> } {
  return {
    args: [
      "repl",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "--allow-sys=hostname",
      `--eval-file=${PRELUDE}`,
    ],
    env: {
      [REPL_LESSON_ENV]: lesson.id,
      [WORKSPACE_ENV]: ctx.workspace.dir,
      [COURSE_ENV]: ctx.course.root,
    },
  };
}

/**
 * Runs the REPL in the foreground until the learner leaves it.
 *
 * @param ctx Course and workspace.
 * @param lesson The lesson to preload.
 * @returns The REPL's exit status.
 */
export async function repl(ctx: LabContext, lesson: Lesson): Promise<number> {
  const { args, env } = replCommand(ctx, lesson);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    // `deno repl --eval-file` resolves the prelude's relative imports against
    // the current directory, so the REPL starts in cli/ (where the prelude is).
    cwd: path.dirname(PRELUDE),
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  return status.code;
}
