/**
 * `lab reset N` / `lab reset --all`: restore the stub, keeping a backup of
 * what is overwritten. Asks first on a terminal; elsewhere it needs `--yes`.
 *
 * @module
 */

import type { Lesson } from "../../course/manifest.ts";
import { colorEnabled, painter } from "../../course/report.ts";
import { UserError } from "../errors.ts";
import { isInteractive, type LabContext } from "./context.ts";

/**
 * Resets lessons to their stubs.
 *
 * @param ctx Course and workspace.
 * @param lessons The lessons to reset.
 * @param options `yes`: do not ask.
 * @throws {UserError} Without `--yes` when stdin is not a terminal, or when the learner declines.
 */
export async function reset(
  ctx: LabContext,
  lessons: readonly Lesson[],
  options: { yes?: boolean },
): Promise<void> {
  const p = painter(colorEnabled());
  if (lessons.length === 0) {
    throw new UserError("The course has no lessons yet (lessons/manifest.json lists none)");
  }
  const files = lessons.map((l) => ctx.workspace.shown(ctx.workspace.exerciseFile(l)));
  const what = lessons.length === 1 ? files[0] : `${lessons.length} exercise files`;
  if (!options.yes) {
    if (!isInteractive()) {
      throw new UserError(
        `reset overwrites ${what} with the stub: run again with --yes to confirm`,
      );
    }
    const { confirm, isCancel } = await import("@clack/prompts");
    const answer = await confirm({
      message: `Replace ${what} with the stub? (a backup is kept under ${
        ctx.workspace.shown(ctx.workspace.backupRoot)
      }/)`,
      initialValue: false,
    });
    if (isCancel(answer) || !answer) throw new UserError("Reset cancelled; nothing was changed", 1);
  }
  const result = await ctx.workspace.reset(lessons);
  for (const lesson of result.restored) {
    console.log(
      `${p.green("✔")} lesson ${lesson.number} (${lesson.title}): ${
        ctx.workspace.shown(ctx.workspace.exerciseFile(lesson))
      } is the stub again`,
    );
  }
  console.log(
    result.backupDir
      ? `Your previous work is kept in ${ctx.workspace.shown(result.backupDir)}/`
      : p.dim("Nothing needed a backup (the files were already the stub)."),
  );
}
