/**
 * The lesson commands of `lab`: `status` (the default), `next`, `list`,
 * `show`, `check`, `hint`, `watch`, `reset`, `solution`, `repl` and
 * `notebook`. A command that takes a lesson works on the current one (the
 * first not passed) when none is named; `solution` on the one passed last. The
 * engine behind them is `course/`; these are thin wrappers that parse
 * arguments, open the course and the workspace, and print.
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { EXIT_FAILURE, UserError } from "./errors.ts";
import {
  lastPassedLesson,
  lessonArg,
  lessonOrCurrent,
  openLab,
  parseTimeout,
} from "./lesson/context.ts";
import { pickFromMenu, printNext, printStatus, progressTable } from "./lesson/status.ts";
import { showHint, showLesson, showSolution } from "./lesson/text.ts";
import { check, watch } from "./lesson/grade.ts";
import { reset } from "./lesson/reset.ts";
import { repl } from "./lesson/repl.ts";
import { notebook } from "./lesson/notebook.ts";
import { colorEnabled } from "../course/report.ts";
import { statusWord } from "./lesson/status.ts";

/** The command `lab` runs when given no arguments. */
export const DEFAULT_COMMAND = "status";

/**
 * Registers the lesson commands on the `lab` program.
 *
 * @param program The `lab` command.
 */
export function register(program: Command): void {
  program
    .command("status")
    .description(
      "where you stand in the course and what to do next (the default; a menu on a terminal)",
    )
    .option("--no-menu", "do not show the lesson menu, even on a terminal")
    .action(async (options) => {
      const ctx = await openLab();
      printStatus(ctx);
      if (!options.menu) return;
      for (;;) {
        const choice = await pickFromMenu(ctx);
        if (!choice) return;
        const { lesson, action } = choice;
        try {
          switch (action) {
            case "show":
              await showLesson(ctx, lesson);
              break;
            case "check":
              await check(ctx, [lesson], {});
              break;
            case "watch":
              await watch(ctx, lesson, {});
              break;
            case "hint":
              await showHint(ctx, lesson, {});
              break;
            case "repl":
              await repl(ctx, lesson);
              break;
            case "notebook":
              await notebook(ctx, lesson);
              break;
            case "solution":
              await showSolution(ctx, lesson, {});
              break;
          }
        } catch (error) {
          // In the menu a failing check is not the end of the session.
          if (!(error instanceof UserError)) throw error;
          console.error(`lab: ${error.message}`);
        }
        console.log("");
      }
    });

  program
    .command("next")
    .description("the lesson to work on next (the first not passed) and how to start it")
    .action(async () => {
      printNext(await openLab());
    });

  program
    .command("list")
    .description("list the lessons with their progress")
    .option("--json", "print the lessons as JSON")
    .action(async (options) => {
      const ctx = await openLab();
      if (options.json) {
        console.log(JSON.stringify(
          ctx.course.lessons.map((l) => ({
            number: l.number,
            id: l.id,
            dir: l.dir,
            title: l.title,
            minutes: l.minutes,
            sections: l.sections,
            requirements: l.requirements,
            status: statusWord(ctx.workspace.progress(l)),
            hintsSeen: ctx.workspace.progress(l).hintsSeen ?? 0,
            hints: l.hints.length,
          })),
          null,
          2,
        ));
        return;
      }
      if (ctx.course.lessons.length === 0) {
        console.log("The course has no lessons yet (lessons/manifest.json lists none).");
        return;
      }
      console.log(progressTable(ctx, colorEnabled()));
    });

  program
    .command("show")
    .description("show a lesson's text in the terminal")
    .argument(
      "[lesson]",
      "lesson number, id or folder, e.g. 1, mmio-window (default: the first one not passed)",
    )
    .option("--raw", "print the Markdown source")
    .option("--no-pager", "print a long lesson instead of paging it ($PAGER, else less)")
    .action(async (ref, options) => {
      const ctx = await openLab();
      await showLesson(ctx, lessonOrCurrent(ctx, ref), options);
    });

  program
    .command("check")
    .description(
      "grade one lesson (or all): deno check, then every check of its grader in a sandboxed subprocess",
    )
    .argument("[lesson]", "lesson number, id or folder (default: the first one not passed)")
    .option("--all", "grade every lesson")
    .option("--json", "print the GradeReport JSON instead of tables")
    .option("--timeout <seconds>", "time limit of the test stage (default 20)")
    .option("-v, --verbose", "show every failure in full")
    .action(async (ref, options) => {
      if (options.all && ref !== undefined) throw new UserError("Give a lesson or --all, not both");
      const ctx = await openLab();
      const lessons = options.all ? ctx.course.lessons : [lessonOrCurrent(ctx, ref)];
      await check(ctx, lessons, {
        json: options.json,
        verbose: options.verbose,
        timeoutMs: parseTimeout(options.timeout),
      });
    });

  program
    .command("hint")
    .description("show the next hint of a lesson (a different one each time), or hint K")
    .argument("[lesson]", "lesson number, id or folder (default: the first one not passed)")
    .argument("[k]", "hint number (give the lesson too: hint 3 2)")
    .option("--all", "show every hint")
    .action(async (ref, k, options) => {
      const ctx = await openLab();
      await showHint(ctx, lessonOrCurrent(ctx, ref), { k, all: options.all });
    });

  program
    .command("watch")
    .description("grade a lesson again on every save (Ctrl+C to stop)")
    .argument("[lesson]", "lesson number, id or folder (default: the first one not passed)")
    .option("--manual", "re-grade when Enter is pressed instead of watching files")
    .option("--timeout <seconds>", "time limit of the test stage (default 20)")
    .action(async (ref, options) => {
      const ctx = await openLab();
      await watch(ctx, lessonOrCurrent(ctx, ref), {
        manual: options.manual,
        timeoutMs: parseTimeout(options.timeout),
      });
    });

  program
    .command("reset")
    .description("restore a lesson's exercise to the stub (a backup of your file is kept)")
    .argument("[lesson]", "lesson number, id or folder")
    .option("--all", "reset every lesson")
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (ref, options) => {
      const ctx = await openLab();
      if (options.all && ref !== undefined) throw new UserError("Give a lesson or --all, not both");
      if (!options.all && ref === undefined) {
        throw new UserError("Which lesson? Give its number, or --all");
      }
      const lessons = options.all ? ctx.course.lessons : [lessonArg(ctx.course, ref!)];
      await reset(ctx, lessons, { yes: options.yes });
    });

  program
    .command("solution")
    .description("show the reference code of a lesson (once it passes)")
    .argument(
      "[lesson]",
      "lesson number, id or folder (default: the one you passed last; with --force, the " +
        "first one not passed)",
    )
    .option("--force", "show it even though the lesson does not pass yet")
    .action(async (ref, options) => {
      const ctx = await openLab();
      let lesson;
      if (ref !== undefined || options.force) {
        lesson = lessonOrCurrent(ctx, ref);
      } else {
        lesson = lastPassedLesson(ctx);
        if (!lesson) {
          const current = lessonOrCurrent(ctx, undefined);
          throw new UserError(
            `No lesson passes yet, so no reference code is unlocked: finish lesson ` +
              `${current.number} first (deno task lab check ${current.number}), or look anyway: ` +
              `deno task lab solution --force`,
            EXIT_FAILURE,
          );
        }
      }
      await showSolution(ctx, lesson, options);
    });

  program
    .command("repl")
    .description("a Deno REPL with a ready machine, memory, your exercise and the reference loaded")
    .argument("[lesson]", "lesson number, id or folder (default: the first one not passed)")
    .action(async (ref) => {
      const ctx = await openLab();
      const code = await repl(ctx, lessonOrCurrent(ctx, ref));
      if (code !== 0) throw new UserError(`deno repl exited with status ${code}`, code);
    });

  program
    .command("notebook")
    .description(
      "copy a lesson's notebook into your workspace (once) and open it in Jupyter",
    )
    .argument("[lesson]", "lesson number, id or folder (default: the first one not passed)")
    .option("--no-open", "only prepare the copy and say how to open it")
    .action(async (ref, options) => {
      const ctx = await openLab();
      await notebook(ctx, lessonOrCurrent(ctx, ref), { open: options.open ? undefined : false });
    });
}
