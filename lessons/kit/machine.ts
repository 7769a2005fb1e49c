/**
 * The lab machine on the learner's parts: the registry parts a lesson lists
 * (`lesson.json` → `parts`) taken from the learner's module, guarded so that
 * their errors reach the learner, and the "your code runs the lab machine"
 * check every lesson ends with: the machine boots on a strict log, every
 * device comes up and the empty slot is skipped, bytes typed at the console
 * reach the guest and come back, and the whole disk read through the stack
 * hashes to what the backend holds, and a write lands where it should.
 *
 * Booting is the expensive step of a grader (a whole guest bring-up): a
 * lesson boots the machine at most twice (this check, plus one scenario of
 * its own), and {@linkcode machineBoots} counts the boots so the project's
 * tests hold graders to it.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { type Check, fail, GradeFailure, isNotWrittenYet } from "../../course/grader.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import {
  createMachine,
  EMPTY_WINDOW,
  type LabMachine,
  type MachineError,
  type MachineOptions,
} from "../../machine.ts";
import { findPart, type MachineParts, machineParts } from "../../parts.ts";
import { featureMaskThrough } from "../../course/features.ts";
// A static import: the grading sandbox reads only the module graph.
import manifest from "../manifest.json" with { type: "json" };
import { MemoryBlockBackend } from "../../devices/blk/backends.ts";
import { type ConsoleSize, MemoryConsoleBackend } from "../../devices/console/backends.ts";
import type { ConsolePortOptions } from "../../devices/console/device.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import { violation as showViolation } from "./format.ts";
import { failOnViolations, thrownViolation } from "./log.ts";
import { recordingWindow } from "./mmio.ts";
import { thrown } from "./rules.ts";

let boots = 0;

/** How many lab machines the kit has booted in this process (for the budget tests). */
export function machineBoots(): number {
  return boots;
}

/** What a lesson's `lesson.json` says about its parts. */
export interface LessonParts {
  /** Registry keys, e.g. `"transport.driver.probeWindow"`. */
  readonly parts: readonly string[];
}

/** The learner's parts, wrapped so their own errors are not lost inside the machine. */
export interface GuardedParts {
  /** Ready for `createMachine({ parts })`. */
  readonly parts: MachineParts;
  /** Throws the first error the learner's code threw (a `todo()`, a `TypeError`...), if any. */
  rethrow(): void;
  /** The first error the learner's code threw, if any (`{ error }`), else `null`. */
  readonly first: { readonly error: unknown } | null;
  /**
   * Rejects as soon as a part the learner has not written yet is called (a
   * stub's `todo()`), with that error; never resolves. Race a phase of the
   * machine against it: a `todo()` inside an interrupt handler or a device's
   * completion, where the machine swallows it, then ends the phase at once
   * instead of by its timeout. (Other errors may be part of a contract, a
   * full queue's, and do not end a phase.)
   */
  readonly unwritten: Promise<never>;
}

/**
 * Takes the functions a lesson provides from the learner's module, by the
 * registry keys it lists, and wraps each one: the machine records a failing
 * bring-up as a device error instead of throwing, so a stub's `todo()` would
 * otherwise only show as "the device did not come up". A violation a strict
 * log throws is left to the log. A window passed as the first argument gets
 * an access budget, so a loop that never ends fails the check instead of
 * hanging it.
 *
 * @param impl The learner's module.
 * @param keys Registry keys (or bare part names) to take from it.
 * @throws {PartError} When a key is unknown or the module lacks the function.
 */
export function learnerParts(impl: unknown, keys: readonly string[]): GuardedParts {
  let first: { error: unknown } | null = null;
  let reject: (error: unknown) => void = () => {};
  const unwritten = new Promise<never>((_, r) => (reject = r));
  unwritten.catch(() => {}); // observed by whoever races it; never an unhandled rejection
  const module = impl as Record<string, unknown>;
  const replacements = keys.map((key) => {
    const name = findPart(key)?.name ?? key;
    const fn = module[name];
    if (typeof fn !== "function") return [key, fn] as const; // machineParts names the problem
    const guarded = (...args: unknown[]) => {
      if (isWindow(args[0])) args[0] = recordingWindow(args[0]).window;
      else if (isReapSource(args[0])) args[0] = budgetedQueue(args[0]);
      try {
        return fn(...args);
      } catch (error) {
        if (first === null && !thrownViolation(error)) first = { error };
        if (isNotWrittenYet(error)) reject(error);
        throw error;
      }
    };
    return [key, guarded] as const;
  });
  return {
    parts: machineParts(replacements),
    rethrow() {
      if (first) throw first.error;
    },
    get first() {
      return first;
    },
    unwritten,
  };
}

function isWindow(v: unknown): v is RegisterWindow {
  return typeof v === "object" && v !== null && typeof (v as RegisterWindow).read32 === "function";
}

/** The steps a reap loop repeats; calls of them a budgeted queue counts. */
const REAP_STEPS = new Set<PropertyKey>(["getBuf", "disableCallbacks", "enableCallbacks"]);
/** How many of those calls one call of a learner's part may make. */
export const QUEUE_CALL_BUDGET = 100_000;

function isReapSource(v: unknown): v is object {
  if (typeof v !== "object" || v === null) return false;
  const q = v as Record<string, unknown>;
  return typeof q.getBuf === "function" && typeof q.enableCallbacks === "function";
}

/** Thrown by a queue whose call budget ran out: the reap loop is looping. */
export class RunawayQueueError extends Error {
  /** The number of calls allowed. */
  readonly budget: number;

  /**
   * @param budget The number of calls allowed.
   * @param last The method called last.
   */
  constructor(budget: number, last: string) {
    super(
      `Your code called the queue's getBuf, disableCallbacks and enableCallbacks more than ` +
        `${budget.toLocaleString("en")} times in one call (the last: ${last}): it looks like a ` +
        "loop that never ends",
    );
    this.name = "RunawayQueueError";
    this.budget = budget;
  }
}

/**
 * A queue (a driver part's first argument) that counts the calls of its reap
 * steps and throws {@linkcode RunawayQueueError} past the budget: a reap loop
 * that never ends inside the machine's interrupt handler fails the check
 * instead of hanging it. Every other member is the queue's own.
 */
function budgetedQueue<Q extends object>(queue: Q): Q {
  let calls = 0;
  return new Proxy(queue, {
    get(target, name) {
      const member = Reflect.get(target, name, target);
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        if (REAP_STEPS.has(name) && ++calls > QUEUE_CALL_BUDGET) {
          throw new RunawayQueueError(QUEUE_CALL_BUDGET, String(name));
        }
        return Reflect.apply(member, target, args);
      };
    },
  });
}

/**
 * The features a lesson's machine offers: those taught by the lesson or an
 * earlier one (`manifest.json` → `features`); later lessons' features are
 * withheld, so the learner's code never meets a feature it was not taught.
 *
 * @param lessonId The graded lesson's id, e.g. `"mmio-window"`.
 * @returns The `featureMask` for `createMachine`.
 * @throws {RangeError} When the manifest has no lesson with that id.
 */
export function featuresThrough(lessonId: string): bigint {
  return featureMaskThrough(manifest, lessonId);
}

/** What {@linkcode bootLearnerMachine} takes. */
export interface LearnerMachineOptions extends Omit<MachineOptions, "parts"> {
  /** The graded lesson's id: features of later lessons are withheld ({@linkcode featuresThrough}). */
  readonly lessonId: string;
  /** Registry keys of the learner's parts to put in the machine. */
  readonly parts: readonly string[];
  /** How long the bring-up may take, in milliseconds (default 3000). */
  readonly timeoutMs?: number;
}

/**
 * Boots the lab machine with some of the learner's parts in place of the
 * reference ones. If the learner's code threw while the machine came up, the
 * machine is closed and that error is thrown, so the grader explains it.
 * With `strict`, the log throws during the bring-up only; afterwards it
 * records, and the caller reads it (`failOnViolations`).
 *
 * @param impl The learner's module.
 * @param options Machine options and the registry keys of the parts.
 * @returns The running machine: close it when done ({@linkcode withMachine}).
 */
export async function bootLearnerMachine(
  impl: unknown,
  options: LearnerMachineOptions,
): Promise<LabMachine> {
  const { parts: keys, lessonId, timeoutMs, ...rest } = options;
  const guarded = learnerParts(impl, keys);
  const featureMask = rest.featureMask ?? featuresThrough(lessonId);
  const log = rest.log ?? new ConformanceLog({ strict: rest.strict ?? false });
  // What the machine catches where no caller could (an interrupt handler, a
  // device's completion, a strict log's storm report) is kept for the
  // failure, not printed: the learner's own errors are the guard's already,
  // a strict log's violations are in the log too.
  const handlerErrors: MachineError[] = [];
  const onError = (error: unknown, where: string) => {
    handlerErrors.push({ error, where });
    rest.onError?.(error, where);
  };
  boots++;
  // A bring-up that waits for a completion that never comes (a kick never
  // sent, an interrupt never raised) has no timer of its own to end it.
  const expected = "the lab machine to come up: every device live, with its driver bound";
  let machine: LabMachine;
  try {
    machine = await within(
      Promise.race([
        createMachine({ ...rest, log, featureMask, onError, parts: guarded.parts }),
        guarded.unwritten,
      ]),
      timeoutMs ?? 3000,
      "the bring-up of the lab machine",
      expected,
    );
  } catch (error) {
    if (error instanceof PhaseTimeout) {
      log.strict = false;
      explainStall(log, guarded, handlerErrors, error, "the bring-up of the lab machine", expected);
    }
    throw error;
  }
  guards.set(machine, guarded);
  handlerErrorsOf.set(machine, handlerErrors);
  machine.log.strict = false;
  try {
    guarded.rethrow();
  } catch (error) {
    await closeMachine(machine);
    throw error;
  }
  return machine;
}

const guards = new WeakMap<LabMachine, GuardedParts>();
const handlerErrorsOf = new WeakMap<LabMachine, readonly MachineError[]>();

/**
 * The learner's parts a machine of {@linkcode bootLearnerMachine} runs on,
 * to race a phase against {@linkcode GuardedParts.failed} or to
 * {@linkcode GuardedParts.rethrow} their first error; `undefined` for any
 * other machine.
 *
 * @param machine The machine.
 */
export function learnerPartsOf(machine: LabMachine): GuardedParts | undefined {
  return guards.get(machine);
}

/** How long closing a machine may take before the kit stops waiting for it, in milliseconds. */
export const CLOSE_TIMEOUT_MS = 1000;

/**
 * Runs `fn` on a machine and closes the machine afterwards, whatever happens.
 * Closing waits at most {@linkcode CLOSE_TIMEOUT_MS}: a machine whose
 * drivers wait for completions that will never come (an interrupt the
 * learner's code lost) is left behind rather than hang the grader.
 *
 * @param machine The machine.
 * @param fn What to do with it.
 */
export async function withMachine<T>(
  machine: LabMachine,
  fn: (m: LabMachine) => Promise<T> | T,
): Promise<T> {
  try {
    return await fn(machine);
  } finally {
    await closeMachine(machine);
  }
}

/** Closes a machine, waiting at most {@linkcode CLOSE_TIMEOUT_MS}. */
async function closeMachine(machine: LabMachine): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    machine.close(),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
}

/**
 * Waits for a promise, at most `ms` milliseconds (and leaves no timer behind).
 * Given a machine {@linkcode bootLearnerMachine} booted, the wait also ends
 * as soon as a part the learner has not written yet is called anywhere in it
 * (a stub's `todo()` in an interrupt handler), with that error.
 *
 * @param promise What to wait for.
 * @param ms The limit.
 * @param what What is awaited, for the failure, e.g. `"the read of the whole disk"`.
 * @param expected What the spec requires, in words.
 * @param machine The learner's machine the wait is on, if any.
 * @throws {PhaseTimeout} When `ms` pass first.
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  expected: string,
  machine?: LabMachine,
): Promise<T> {
  const unwritten = machine && learnerPartsOf(machine)?.unwritten;
  if (unwritten) promise = Promise.race([promise, unwritten]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WithinTimeout()), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } catch (error) {
    if (error instanceof WithinTimeout) {
      throw new PhaseTimeout({ observed: `${what} did not complete within ${ms} ms`, expected });
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

class WithinTimeout extends Error {}

/** The failure of a phase that did not complete in time (see {@linkcode within}). */
export class PhaseTimeout extends GradeFailure {}

/** Sectors of the disk the machine check serves: 1 MiB. */
export const CHECK_DISK_SECTORS = 2048;

/**
 * A disk whose every sector is different: it starts with its own number
 * (`"sector 17 "`), and the rest is a pseudo-random pattern. A request that
 * reads or writes the wrong sector, or part of one, changes the hash.
 *
 * @param sectors Size in 512-byte sectors.
 * @param seed Pattern seed; a different seed gives different contents.
 */
export function patternedDisk(sectors: number, seed = 0x9e3779b9): Uint8Array {
  const data = new Uint8Array(sectors * 512);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  const label = new TextEncoder();
  for (let s = 0; s < sectors; s++) data.set(label.encode(`sector ${s} `), s * 512);
  return data;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Where two disk images first differ, in words a learner can act on. */
function firstDifference(got: Uint8Array, want: Uint8Array): string {
  const at = got.findIndex((b, i) => b !== want[i]);
  if (at < 0) return "no byte differs";
  const sector = Math.floor(at / 512);
  const chunk = got.subarray(sector * 512, sector * 512 + 512);
  for (let s = 0; s * 512 < want.length; s++) {
    const other = want.subarray(s * 512, s * 512 + 512);
    if (s !== sector && chunk.every((b, i) => b === other[i])) {
      return `sector ${sector} came back holding the bytes of sector ${s}`;
    }
  }
  return `the first wrong byte is at offset ${at} (sector ${sector}, byte ${at % 512}): ` +
    `read 0x${got[at].toString(16).padStart(2, "0")}, the disk holds 0x${
      want[at].toString(16).padStart(2, "0")
    }`;
}

/** What {@linkcode machineCheck} takes. */
export interface MachineCheckOptions<I> {
  /** The check's name (default `"your code runs the lab machine"`). */
  readonly name?: string;
  /** The requirement id the check enforces. */
  readonly requirement: RequirementId;
  /** The hint that helps when it fails. */
  readonly hint: number;
  /** What the spec requires, in words. */
  readonly expects: string;
  /** The lesson's id in the manifest (as `defineGrader` has it): later lessons' features are withheld. */
  readonly id: string;
  /** The lesson's `lesson.json`: its `parts` go into the machine. */
  readonly lesson: LessonParts;
  /** Something more to check on the running machine (e.g. the features negotiated). */
  readonly also?: (machine: LabMachine, impl: I) => void | Promise<void>;
  /** How long each phase may take, in milliseconds (default 3000). */
  readonly timeoutMs?: number;
  /**
   * A size for the console to report, so that it offers
   * VIRTIO_CONSOLE_F_SIZE and its driver reads `cols` and `rows` (default:
   * none). `also` can resize it through `machine.console.device.backend`.
   */
  readonly consoleSize?: ConsoleSize;
  /**
   * Guest RAM for the machine, made afresh for each run (default: the
   * machine's own, 16 MiB at 1 GiB); e.g. RAM above 4 GiB, so that every
   * guest-physical address has a high word.
   */
  readonly memory?: () => GuestMemory;
  /**
   * More console ports for the machine, made afresh for each run (default
   * none): with any, the console offers VIRTIO_CONSOLE_F_MULTIPORT and `also`
   * can talk to them through `machine.console.driver.ports`.
   */
  readonly consolePorts?: () => ConsolePortOptions[];
  /**
   * Run the machine on the legacy interface (§4.2.4, `createMachine({ legacy
   * })`): Version 1 windows, so that legacy parts are the ones called.
   */
  readonly legacy?: boolean;
  /**
   * Boot the machine with packed virtqueues (`createMachine({ packed })`):
   * VIRTIO_F_RING_PACKED offered and accepted, if the lesson's features allow it.
   */
  readonly packed?: boolean;
}

/**
 * The check every lesson ends with: the lab machine runs on the learner's
 * parts, all of the lesson's parts at once, on a strict conformance log:
 *
 * 1. both devices come up with a driver bound and the empty slot is skipped,
 *    and no rule is broken on the way (the first violation is cited);
 * 2. 9,000 bytes typed at the console reach the guest, and the guest's echo
 *    of them reaches the console: receiveq and transmitq, both directions;
 * 3. the whole 1 MiB disk read through the stack (driver, virtqueue, MMIO,
 *    device, backend and back) hashes (SHA-256) to what the backend holds;
 * 4. 8 sectors written at the end of the disk land in the backend, and read
 *    back the same;
 * 5. whatever `also` checks; and no violation logged through all of it.
 *
 * @param options The check's name, id, hint, text, and the lesson's parts.
 * @returns The check.
 */
export function machineCheck<I>(options: MachineCheckOptions<I>): Check<I> {
  const ms = options.timeoutMs ?? 3000;
  return {
    name: options.name ?? "your code runs the lab machine",
    requirement: options.requirement,
    hint: options.hint,
    expects: options.expects,
    async run(impl: I) {
      const disk = new MemoryBlockBackend(patternedDisk(CHECK_DISK_SECTORS));
      const expectedDisk = disk.data.slice();
      const console = new MemoryConsoleBackend({ size: options.consoleSize });
      const machine = await bootLearnerMachine(impl, {
        strict: true,
        lessonId: options.id,
        parts: options.lesson.parts,
        disk,
        console,
        timeoutMs: ms,
        memory: options.memory?.(),
        consolePorts: options.consolePorts?.(),
        legacy: options.legacy,
        packed: options.packed,
      });
      await withMachine(machine, async () => {
        let phase = "the bring-up of the lab machine";
        try {
          expectDevicesUp(machine, options.expects);
          failOnViolations(machine.log, phase, options.expects);
          phase = "the console round trip";
          await consoleRoundTrip(machine, console, ms);
          failOnViolations(machine.log, phase, options.expects);
          phase = "the disk reads and writes";
          await diskRoundTrip(machine, disk, expectedDisk, ms);
          failOnViolations(machine.log, phase, options.expects);
          phase = "the last steps of the check";
          await options.also?.(machine, impl);
          failOnViolations(machine.log, phase, options.expects);
        } catch (error) {
          if (error instanceof PhaseTimeout) {
            explainStall(
              machine.log,
              learnerPartsOf(machine),
              handlerErrorsOf.get(machine) ?? [],
              error,
              phase,
              options.expects,
            );
          } else if (!isNotWrittenYet(error)) {
            // Bytes that differ after a rule was broken: the violation is the
            // cause, the wrong bytes only its effect.
            failOnViolations(machine.log, phase, options.expects);
          }
          throw error;
        }
      });
    },
  };
}

/**
 * Fails unless every device of the machine is live with a driver bound and
 * the empty slot was found empty, citing the first rule broken at a window
 * that did not come up.
 *
 * @param machine The machine.
 * @param expected What the spec requires, in words.
 */
export function expectDevicesUp(machine: LabMachine, expected: string): void {
  for (const d of machine.devices()) {
    const isEmptySlot = d.base === EMPTY_WINDOW.base;
    if (isEmptySlot ? d.state === "empty" : d.state === "live" && d.driver !== "") continue;
    const at = `0x${d.base.toString(16)}`;
    const here = machine.log.entries.filter((v) => v.source.includes(at));
    // An empty slot that is not skipped is the driver's doing (4.2.2.2/6),
    // whatever the device side logged about the rejection.
    const broken = isEmptySlot ? here.find((v) => v.role === "driver") : here[0];
    fail({
      observed:
        `the guest found ${d.node} ${
          d.type === "rejected" ? "rejected" : `${d.type}, ${d.state}`
        }` +
        (d.error ? ` (${d.error})` : "") + (d.status ? `; its status reads ${d.status}` : "") +
        (broken ? `; the first rule broken there: ${showViolation(broken)}` : ""),
      expected: isEmptySlot
        ? `${expected}; the empty slot at ${at} is skipped silently`
        : `${expected}; ${d.node} is brought up and its driver bound (state "live")`,
      requirement: broken?.id ?? (isEmptySlot ? "4.2.2.2/6" : undefined),
    });
  }
}

/**
 * A phase that stalled says why when it can: the first rule broken in it is
 * cited, or else the timeout is shown with the first error the learner's
 * code threw inside the machine (where an interrupt handler or a device
 * model swallowed it), as the likely cause.
 */
function explainStall(
  log: ConformanceLog,
  guarded: GuardedParts | undefined,
  handlerErrors: readonly MachineError[],
  stalled: PhaseTimeout,
  phase: string,
  expected: string,
): void {
  failOnViolations(log, phase, expected);
  const first = guarded?.first;
  const where = "Inside the machine, where nothing stops for it (an interrupt handler, a " +
    "device's completion),";
  const note = first
    ? `${where} your code threw ${thrown(first.error)}: the likely cause.`
    : handlerErrors.length > 0
    ? `${where} ${thrown(handlerErrors[0].error)} was thrown in ${handlerErrors[0].where}.`
    : undefined;
  if (note) {
    fail({
      observed: stalled.observed,
      expected: stalled.expected,
      requirement: stalled.requirement,
      note,
    });
  }
}

/** Waits for a phase of the machine, ended at once when a part not written yet is called. */
function phase<T>(
  machine: LabMachine,
  promise: Promise<T>,
  ms: number,
  what: string,
  expected: string,
): Promise<T> {
  return within(promise, ms, what, expected, machine);
}

async function consoleRoundTrip(
  machine: LabMachine,
  backend: MemoryConsoleBackend,
  ms: number,
): Promise<void> {
  const driver = machine.console.driver;
  if (!driver) {
    fail({
      observed: `the console driver is not bound: ${machine.console.error}`,
      expected: "a live console",
    });
  }
  const line = (i: number) =>
    `line ${String(i).padStart(4, "0")}: virtio-lab console round trip\r\n`;
  const payload = new TextEncoder().encode(Array.from({ length: 200 }, (_, i) => line(i)).join(""));
  const expected =
    "the guest to receive every byte typed at the console (receiveq) and its reply " +
    "to reach the console (transmitq), in order";
  backend.input(payload);
  const reader = driver.readable.getReader();
  const received = new Uint8Array(payload.length);
  let got = 0;
  try {
    await phase(
      machine,
      (async () => {
        while (got < payload.length) {
          const { value, done } = await reader.read();
          if (done || !value) break;
          received.set(value.subarray(0, payload.length - got), got);
          got += value.length;
        }
      })(),
      ms,
      `receiving ${payload.length} bytes typed at the console (${got} arrived)`,
      expected,
    );
  } finally {
    reader.releaseLock();
  }
  expectSameBytes(received.subarray(0, got), payload, "the bytes the guest received", expected);
  await phase(machine, driver.write(received), ms, "the guest's write to the console", expected);
  await phase(
    machine,
    backend.waitForOutput(payload.length),
    ms,
    "the echo reaching the console",
    expected,
  );
  expectSameBytes(backend.output, payload, "the bytes that reached the console", expected);
}

function expectSameBytes(got: Uint8Array, want: Uint8Array, what: string, expected: string): void {
  if (got.length === want.length && got.every((b, i) => b === want[i])) return;
  const at = got.findIndex((b, i) => b !== want[i]);
  const where = at >= 0 ? at : Math.min(got.length, want.length);
  const text = (bytes: Uint8Array) =>
    JSON.stringify(new TextDecoder().decode(bytes.subarray(where, where + 24)));
  fail({
    observed:
      `${what}: ${got.length} of ${want.length} bytes, the first difference at byte ${where} ` +
      `(${text(got)} where ${text(want)} was sent)`,
    expected,
  });
}

async function diskRoundTrip(
  machine: LabMachine,
  disk: MemoryBlockBackend,
  want: Uint8Array,
  ms: number,
): Promise<void> {
  const blk = machine.blk.driver;
  const expected = "every sector read through the stack to hold what the disk holds, and a write " +
    "to reach the disk";
  if (!blk) {
    fail({ observed: `the virtio-blk driver is not bound: ${machine.blk.error}`, expected });
  }
  const all = await phase(
    machine,
    blk.read(0, CHECK_DISK_SECTORS).catch(learnerError),
    ms,
    `reading the whole disk (${CHECK_DISK_SECTORS} sectors)`,
    expected,
  );
  const [gotHash, wantHash] = await Promise.all([sha256(all), sha256(want)]);
  if (gotHash !== wantHash) {
    fail({
      observed:
        `the whole disk read through the stack hashes to sha256 ${gotHash.slice(0, 16)}..., ` +
        `the disk holds ${wantHash.slice(0, 16)}...: ${firstDifference(all, want)}`,
      expected,
    });
  }
  const at = CHECK_DISK_SECTORS - 8;
  const fresh = patternedDisk(8, 0x5eed).map((b, i) => b ^ want[at * 512 + i]);
  await phase(
    machine,
    blk.write(at, fresh).catch(learnerError),
    ms,
    "writing the last 8 sectors",
    expected,
  );
  const landed = disk.data.subarray(at * 512, (at + 8) * 512);
  if (!landed.every((b, i) => b === fresh[i])) {
    fail({
      observed:
        `after writing sectors ${at}..${at + 7} through the stack, the disk holds other bytes: ` +
        firstDifference(landed, fresh),
      expected,
    });
  }
  const back = await phase(
    machine,
    blk.read(at, 8).catch(learnerError),
    ms,
    "reading the written sectors back",
    expected,
  );
  expectSameBytes(back, fresh, `sectors ${at}..${at + 7} read back after the write`, expected);
}

/** A driver error during the check: a stub's `todo()` passes through; anything else is shown. */
function learnerError(error: unknown): never {
  if (isNotWrittenYet(error)) throw error;
  const v = thrownViolation(error);
  fail({
    observed: v
      ? `the disk request broke a rule: ${showViolation(v)}`
      : `the disk request failed: ${thrown(error)}`,
    expected: "every disk request to complete",
    requirement: v?.id,
  });
}
