/**
 * What `lab repl` preloads (see `cli/repl_prelude.ts`): a ready machine, its
 * memory, the learner's exercise module, the lesson's reference, and a `lab`
 * object with helpers. Values print readably in the REPL.
 *
 * @module
 */

import { fileUrl } from "../../course/paths.ts";
import { defaultCourseRoot } from "../../course/paths.ts";
import { findLesson, type Lesson, loadCourse } from "../../course/manifest.ts";
import { Workspace } from "../../course/workspace.ts";
import { gradeLesson } from "../../course/runner.ts";
import { type DisplayableReport, withDisplay } from "../../course/report.ts";
import { createMachine, type LabMachine } from "../../machine.ts";
import type { MmioBus } from "../../transport/mmio_bus.ts";
import type { ConformanceLog } from "../../conformance/log.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { REPL_LESSON_ENV } from "./repl.ts";

/** The `lab` helper object of the REPL. */
export interface ReplHelpers {
  /** The lesson loaded. */
  readonly lesson: Lesson;
  /** Grades the exercise out of process (like `lab check N`) and records the result. */
  check(): Promise<DisplayableReport>;
  /** Re-imports the learner's exercise fresh after an edit; `ex` then refers to the new code. */
  reload(): Promise<Record<string, unknown>>;
  /** Prints the next hint. */
  hint(): void;
  /** Prints the help. */
  help(): void;
}

/** Everything the prelude binds as REPL globals. */
export interface ReplBindings {
  /** A ready lab machine, or `undefined` when it could not be built. */
  readonly machine: LabMachine | undefined;
  /** The machine's RAM (or a standalone 1 MiB RAM when there is no machine). */
  readonly memory: GuestMemory;
  /** The machine's MMIO bus. */
  readonly bus: MmioBus | undefined;
  /** The machine's conformance log. */
  readonly log: ConformanceLog | undefined;
  /** The learner's exercise module (always the latest `lab.reload()`). */
  readonly ex: Record<string, unknown>;
  /** The lesson's reference module (its names bound to the library). */
  readonly ref: Record<string, unknown>;
  /** Helpers. */
  readonly lab: ReplHelpers;
}

/**
 * Builds the REPL's bindings for the lesson named by `$VIRTIO_LAB_LESSON`
 * (default: lesson 1) and prints the help.
 */
export async function startLabRepl(): Promise<ReplBindings> {
  const course = loadCourse(defaultCourseRoot());
  const workspace = await Workspace.open(course);
  const ref = Deno.env.get(REPL_LESSON_ENV) ?? "1";
  const lesson = findLesson(course, ref);
  const exerciseFile = workspace.exerciseFile(lesson);

  let current: Record<string, unknown> = {};
  let loadProblem = "";
  let version = 0;
  const reload = async () => {
    version++;
    try {
      current = await import(`${fileUrl(exerciseFile)}?v=${version}`);
      loadProblem = "";
    } catch (error) {
      current = {};
      loadProblem = `${(error as Error).name}: ${(error as Error).message.split("\n")[0]}`;
      console.error(`your exercise failed to load: ${loadProblem}`);
    }
    return current;
  };
  await reload();
  const ex = new Proxy({}, {
    get: (_t, key) => current[key as string],
    has: (_t, key) => key in current,
    ownKeys: () => Reflect.ownKeys(current),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(current, key);
      return d ? { ...d, configurable: true } : undefined;
    },
  }) as Record<string, unknown>;
  const reference = await import(fileUrl(lesson.paths.reference)) as Record<string, unknown>;

  let machine: LabMachine | undefined;
  let machineNote = "";
  try {
    machine = await createMachine();
  } catch (error) {
    machineNote = `createMachine() failed: ${(error as Error).message.split("\n")[0]}`;
  }
  const memory = machine?.memory ?? new GuestMemory(1024 * 1024);

  const help = () => {
    const names = Object.keys(current).join(", ") || "(none yet)";
    console.log([
      `virtio-lab REPL · lesson ${lesson.number}: ${lesson.title}`,
      machine
        ? "  machine   a ready lab machine: machine.memory, machine.bus, machine.console, machine.blk, machine.log"
        : `  machine   (not available: ${machineNote})`,
      `  memory    guest RAM (${
        machine ? "the machine's" : "standalone, 1 MiB"
      }): memory.readU32(addr), memory.writeU8(addr, v)...`,
      "  bus, log  the MMIO bus and the conformance log (log.format() lists violations)",
      `  ex        your ${workspace.shown(exerciseFile)}: ${names}`,
      `            after editing it: await lab.reload()`,
      `  ref       the reference (the library behind the same names): ${
        Object.keys(reference).join(", ")
      }`,
      "  lab       await lab.check() grades out of process · lab.hint() · lab.help()",
      "Leave with ctrl+d or close().",
    ].join("\n"));
  };

  const lab: ReplHelpers = {
    lesson,
    async check() {
      const report = await gradeLesson({ workspace, lesson });
      workspace.recordGrade(lesson, report);
      return withDisplay(report);
    },
    reload,
    hint() {
      const seen = workspace.progress(lesson).hintsSeen ?? 0;
      const k = Math.min(seen + 1, lesson.hints.length);
      workspace.recordHint(lesson, k);
      console.log(`Hint ${k} of ${lesson.hints.length}:\n${lesson.hints[k - 1]}`);
    },
    help,
  };
  Object.defineProperty(lab, Symbol.for("Deno.customInspect"), {
    value: () =>
      `lab helpers for lesson ${lesson.number} (${lesson.title}): check(), reload(), hint(), help()`,
  });
  help();
  if (loadProblem) console.log(`(your exercise does not load yet: ${loadProblem})`);
  return {
    machine,
    memory,
    bus: machine?.bus,
    log: machine?.log,
    ex,
    ref: reference,
    lab,
  };
}
