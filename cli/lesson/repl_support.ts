/**
 * What `lab repl` preloads (see `cli/repl_prelude.ts`): a ready machine, its
 * memory, the learner's exercise module, the lesson's reference, and a `lab`
 * object with helpers. Values print readably in the REPL (see
 * `repl_inspect.ts`): byte arrays as hex dumps, the devices with their
 * windows in hex, hints as rendered Markdown.
 *
 * @module
 */

import { fileUrl } from "../../course/paths.ts";
import { defaultCourseRoot } from "../../course/paths.ts";
import { findLesson, type Lesson, loadCourse } from "../../course/manifest.ts";
import { Workspace } from "../../course/workspace.ts";
import { gradeLesson } from "../../course/runner.ts";
import { colorEnabled, type DisplayableReport, withDisplay } from "../../course/report.ts";
import { createMachine, type LabMachine } from "../../machine.ts";
import type { MmioBus } from "../../transport/mmio_bus.ts";
import type { ConformanceLog } from "../../conformance/log.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { REPL_LESSON_ENV } from "./repl.ts";
import { renderMarkdown } from "./markdown.ts";
import { terminalWidth } from "../wrap.ts";
import {
  describeMachineDevices,
  formatParts,
  hex,
  showByteArraysAsHexDumps,
  shown,
} from "./repl_inspect.ts";

/** What a REPL helper returns: the REPL prints its text, and nothing after it. */
export type Shown = ReturnType<typeof shown>;

/** The `lab` helper object of the REPL. */
export interface ReplHelpers {
  /** The lesson loaded. */
  readonly lesson: Lesson;
  /** Grades the exercise out of process (like `lab check N`) and records the result. */
  check(): Promise<DisplayableReport>;
  /** Re-imports the learner's exercise fresh after an edit; `ex` then refers to the new code. */
  reload(): Promise<Record<string, unknown>>;
  /**
   * The next hint not seen yet (or hint `n`), rendered from Markdown, and
   * remembered in the progress.
   */
  hint(n?: number): Shown;
  /** What the REPL binds and how to use it. */
  help(): Shown;
  /** Which parts `machine` runs (reference or replaced) and which exports of `ex` are parts. */
  parts(): Shown;
  /** A number as hex (`0x` and at least `width` digits, default 8). */
  hex(value: number | bigint, width?: number): string;
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
  /** {@linkcode ReplHelpers.hex}, bound on its own for short expressions. */
  readonly hex: (value: number | bigint, width?: number) => string;
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
  showByteArraysAsHexDumps();
  if (machine) describeMachineDevices(machine);
  // Rendered once here, so lab.hint() can return its text without awaiting.
  const color = colorEnabled();
  const width = Math.min(terminalWidth(), 100);
  const hints = await Promise.all(lesson.hints.map((h) => renderMarkdown(h, color, width)));

  const helpText = () => {
    const names = Object.keys(current).join(", ") || "(none yet)";
    return [
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
      "  lab       await lab.check() grades out of process · lab.hint() · lab.parts() · lab.help()",
      "  hex(n)    a number in hex: hex(memory.readU32(addr)); byte arrays print as hex dumps",
      "Leave with ctrl+d or close().",
    ].join("\n");
  };

  const lab: ReplHelpers = {
    lesson,
    async check() {
      const report = await gradeLesson({ workspace, lesson });
      workspace.recordGrade(lesson, report);
      return withDisplay(report, {
        hintCall: (n) => (n === undefined ? "lab.hint()" : `lab.hint(${n})`),
      });
    },
    reload,
    hint(n?: number) {
      if (lesson.hints.length === 0) return shown(`Lesson ${lesson.number} has no hints.`);
      const seen = workspace.progress(lesson).hintsSeen ?? 0;
      const k = Math.min(Math.max(1, Math.trunc(n ?? seen + 1)), lesson.hints.length);
      workspace.recordHint(lesson, k);
      const more = k < lesson.hints.length ? `lab.hint() shows hint ${k + 1}` : "the last hint";
      return shown(`Hint ${k} of ${lesson.hints.length} (${more}):\n\n${hints[k - 1]}`);
    },
    help: () => shown(helpText()),
    parts: () => shown(formatParts(machine?.parts ?? {}, Object.keys(current))),
    hex,
  };
  Object.defineProperty(lab, Symbol.for("Deno.customInspect"), {
    value: () =>
      `lab helpers for lesson ${lesson.number} (${lesson.title}): check(), reload(), hint(), parts(), help(), hex()`,
  });
  console.log(helpText());
  if (loadProblem) console.log(`(your exercise does not load yet: ${loadProblem})`);
  return {
    machine,
    memory,
    bus: machine?.bus,
    log: machine?.log,
    ex,
    ref: reference,
    lab,
    hex,
  };
}
