/**
 * Hardening the grading harness's realm before the learner's module is
 * imported, so that nothing the learner's code does can change what the
 * grader's checks compute or what the harness reports:
 *
 * 1. {@linkcode captureHost}: the harness keeps its own references to the
 *    functions it writes results with, before anything else runs.
 * 2. {@linkcode lockdownRealm}: SES `lockdown()` freezes every JavaScript
 *    intrinsic (`Object.is`, `Array.prototype.every`, `JSON.stringify`,
 *    `Promise.prototype.then`, ...) and tames the few that leak.
 * 3. {@linkcode hardenExports}: the exports of every module of the grader's
 *    graph (the course's library, the grading API, fast-check, Node
 *    built-ins) are frozen transitively, prototypes included, so
 *    `grader.checks[0].run = () => {}` or patching a library class throws.
 * 4. {@linkcode guardPackage}: packages with global state the grader relies
 *    on (fast-check's global configuration and plugins) are pinned and
 *    watched.
 * 5. {@linkcode refuseProcessExit} and {@linkcode freezeGlobals}: `Deno.exit()`
 *    throws instead of ending the process, every global binding is read-only
 *    (no `globalThis.JSON = fake`), the global object takes no new
 *    properties, and the host's web APIs (`TextDecoder`, `URL`, timers,
 *    `console`, ...) and the `Deno` namespace are frozen.
 *
 * None of this is needed for the results to be unforgeable (that is the
 * nonce's job, see `protocol.ts`); it is what keeps a check's *verdict*
 * honest while the learner's code runs inside it.
 *
 * @module
 */

import "ses";
import type { LockdownOptions } from "ses";

/**
 * The options of SES `lockdown()` for grading, every one given (SES reads the
 * environment for missing ones, which the sandbox does not allow):
 * V8's error stacks are kept (`errorTaming: "unsafe"`, explanations point at
 * `exercise.ts:LINE`), assignments that override a frozen prototype's
 * property work (`overrideTaming: "severe"`: `class E extends Error {
 * constructor() { this.name = "E" } }`), `toLocaleString` keeps the locale,
 * and SES reports nothing on the console.
 */
export const LOCKDOWN_OPTIONS: LockdownOptions = Object.freeze({
  errorTaming: "unsafe",
  errorTrapping: "none",
  reporting: "none",
  unhandledRejectionTrapping: "none",
  regExpTaming: "safe",
  localeTaming: "unsafe",
  consoleTaming: "unsafe",
  overrideTaming: "severe",
  stackFiltering: "verbose",
  domainTaming: "unsafe",
  evalTaming: "safe-eval",
  overrideDebug: [],
  legacyRegeneratorRuntimeTaming: "safe",
  __hardenTaming__: "safe",
});

/** What the harness needs from the host, captured before any other code can replace it. */
export interface Host {
  /** Writes all of `text` to stdout, synchronously. */
  write(text: string): void;
  /** Milliseconds from a monotonic clock. */
  now(): number;
  /** Ends the process with `code`. */
  exit(code: number): never;
  /** Resolves after one turn of the event loop (pending timers and events run first). */
  tick(): Promise<void>;
}

/**
 * Captures the host functions the harness reports with. Call it first: the
 * returned functions keep working whatever is replaced later.
 */
export function captureHost(): Host {
  const apply = Reflect.apply;
  const stdout = Deno.stdout;
  const writeSync = stdout.writeSync;
  const encoder = new TextEncoder();
  const encode = encoder.encode;
  const subarray = Uint8Array.prototype.subarray;
  const clock = performance;
  const now = clock.now;
  const exit = Deno.exit;
  const schedule = setTimeout;
  return Object.freeze({
    write(text: string): void {
      let bytes = apply(encode, encoder, [text]) as Uint8Array;
      while (bytes.length > 0) {
        const n = apply(writeSync, stdout, [bytes]) as number;
        bytes = apply(subarray, bytes, [n]) as Uint8Array;
      }
    },
    now: () => apply(now, clock, []) as number,
    exit: (code: number): never => exit(code),
    tick: () => new Promise<void>((resolve) => void schedule(resolve, 0)),
  });
}

/**
 * Reads stdin to its end (the parent writes the job and closes it).
 *
 * @returns The text read.
 */
export async function readAllStdin(): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of Deno.stdin.readable) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

/** Runs SES `lockdown()` with {@linkcode LOCKDOWN_OPTIONS}. */
export function lockdownRealm(): void {
  lockdown({ ...LOCKDOWN_OPTIONS, overrideDebug: [] });
}

/**
 * Hardens every export of a module: the exported value and everything
 * reachable from it (own properties, prototypes) become frozen. The module
 * namespace itself is already immutable.
 *
 * @param namespace A module namespace object.
 * @throws {TypeError} When an export cannot be frozen.
 */
export function hardenExports(namespace: Record<string, unknown>): void {
  for (const key of Object.keys(namespace)) harden(namespace[key]);
}

/**
 * Global state of a package that the grader's checks depend on and that an
 * exported function could change without touching any frozen object.
 */
export interface PackageGuard {
  /** The package, e.g. `"fast-check"`. */
  readonly name: string;
  /**
   * What was changed since the guard was installed (or last {@linkcode reset}),
   * in words, or `null` when nothing was.
   */
  tampered(): string | null;
  /** Puts the state back as the harness set it. */
  reset(): void;
}

/**
 * A guard for a package of the grader's graph, when the package has global
 * state worth guarding (today: fast-check), else `null`.
 *
 * @param name The package name, e.g. `"fast-check"`.
 * @param namespace The package's module namespace (hardened already).
 * @throws {Error} When the package's state cannot be pinned (the harness then refuses to grade).
 */
export function guardPackage(
  name: string,
  namespace: Record<string, unknown>,
): PackageGuard | null {
  return name === "fast-check" ? guardFastCheck(namespace as unknown as FastCheckGlobals) : null;
}

/** The parts of fast-check's API that hold process-wide state. */
interface FastCheckGlobals {
  configureGlobal(parameters: object): void;
  readConfigureGlobal(): unknown;
  installGlobalPlugin?(plugin: (this: unknown) => object): void;
  check(property: unknown, parameters: object): unknown;
  property(arbitrary: unknown, predicate: (value: unknown) => boolean): unknown;
  constant(value: unknown): unknown;
}

/**
 * fast-check keeps a global configuration (`fc.configureGlobal`: its
 * `interruptAfterTimeLimit`, `skipAllAfterTimeLimit`, `path` or `reporter`
 * would make a property check pass without testing anything) and global
 * plugins (`fc.installGlobalPlugin`: a `decorateRun` plugin could skip the
 * predicate). The guard installs a frozen, empty configuration of its own and
 * watches it, and installs a plugin that (a) freezes the global plugin list
 * the first time fast-check calls it (fast-check calls each plugin as a
 * method of that list), so no later plugin can be installed, and (b) checks
 * the configuration at the start of every run, right after fast-check read it.
 */
function guardFastCheck(fc: FastCheckGlobals): PackageGuard {
  const settings = harden({});
  let changedDuringRun = false;
  let pluginsFrozen = false;
  fc.configureGlobal(settings);
  if (typeof fc.installGlobalPlugin === "function") {
    fc.installGlobalPlugin(function harnessGuard(this: unknown): object {
      if (Array.isArray(this) && !pluginsFrozen) {
        Object.freeze(this);
        pluginsFrozen = true;
      }
      if (fc.readConfigureGlobal() !== settings) {
        changedDuringRun = true;
        throw new Error(
          "fast-check's global configuration was replaced (fc.configureGlobal): grading stopped this property check",
        );
      }
      return {};
    });
    fc.check(fc.property(fc.constant(0), () => true), { numRuns: 1 });
    if (!pluginsFrozen) {
      throw new Error(
        "Could not pin fast-check's global plugins: the grading harness needs updating",
      );
    }
  }
  return Object.freeze({
    name: "fast-check",
    tampered(): string | null {
      return changedDuringRun || fc.readConfigureGlobal() !== settings
        ? "fast-check's global configuration (fc.configureGlobal, which the grader's property checks read)"
        : null;
    },
    reset(): void {
      changedDuringRun = false;
      fc.configureGlobal(settings);
    },
  });
}

/**
 * Makes `Deno.exit()` and `close()` throw instead of ending the process: a
 * learner's exit then fails the check it happens in (with a message saying
 * why) and the later checks still run. Ending the process some other way is
 * still possible; the parent counts every check without a result as failed.
 */
export function refuseProcessExit(): void {
  const refuse = (what: string) =>
    Object.freeze(function refused(): never {
      throw new Error(
        `${what} is not available while grading: the grader has to report on every check`,
      );
    });
  Object.defineProperty(Deno, "exit", { value: refuse("Deno.exit()"), writable: false });
  Object.defineProperty(globalThis, "close", { value: refuse("close()"), writable: false });
}

/**
 * Globals whose values cannot be frozen (Deno implements them as proxies over
 * the environment or storage); their bindings are still made read-only.
 */
const UNFREEZABLE_GLOBALS: ReadonlySet<string> = new Set([
  "process",
  "localStorage",
  "sessionStorage",
]);

/**
 * Freezes the global object's bindings and the host APIs behind them. Every
 * string-keyed global becomes a read-only, non-configurable data property
 * (lazily loaded ones are loaded first), the global object takes no new
 * properties, every global value is hardened except the `Deno` namespace
 * (frozen one level deep: its functions, `Deno.errors` and the standard
 * streams, but not the runtime's internals behind it) and the
 * {@linkcode UNFREEZABLE_GLOBALS}.
 *
 * Call it after the harness has added its own event listeners (Deno keeps
 * them in properties of the global object's listener table).
 *
 * @throws {TypeError} When a global cannot be frozen (the harness then refuses to grade).
 */
export function freezeGlobals(): void {
  // Deno replaces queueMicrotask by its native version on first use.
  queueMicrotask(() => {});
  const values = new Map<string, unknown>();
  for (const key of Object.getOwnPropertyNames(globalThis)) {
    const d = Object.getOwnPropertyDescriptor(globalThis, key)!;
    values.set(key, d.get ? d.get.call(globalThis) : d.value);
  }
  for (const [key, value] of values) {
    const d = Object.getOwnPropertyDescriptor(globalThis, key)!;
    if (!d.configurable) {
      if ("value" in d && d.writable) Object.defineProperty(globalThis, key, { writable: false });
      continue;
    }
    Object.defineProperty(globalThis, key, {
      value,
      writable: false,
      enumerable: d.enumerable,
      configurable: false,
    });
  }
  // Deno records on the global object that "unload" was dispatched (Deno.exit
  // and the end of the event loop both dispatch it): make room for that flag
  // before the global object takes no new properties.
  const unloadFlag = Symbol.for("Deno.isUnloadDispatched");
  if (!Object.hasOwn(globalThis, unloadFlag)) {
    Object.defineProperty(globalThis, unloadFlag, { value: false, writable: true });
  }
  Object.preventExtensions(globalThis);
  for (const [key, value] of values) {
    if (key === "Deno" || UNFREEZABLE_GLOBALS.has(key) || value === globalThis) continue;
    if (value === null || (typeof value !== "object" && typeof value !== "function")) continue;
    harden(value);
  }
  Object.freeze(Deno);
  Object.freeze(Deno.errors);
  for (const errorClass of Object.values(Deno.errors)) harden(errorClass);
  for (const stream of [Deno.stdin, Deno.stdout, Deno.stderr]) {
    Object.freeze(stream);
    Object.freeze(Object.getPrototypeOf(stream));
  }
}
