/**
 * Assertion helpers for graders: each throws a {@linkcode GradeFailure} that
 * reads like the spec ("observed: ... / the spec requires: ...").
 *
 * @example
 * ```ts
 * import { expectEqual } from "./expect.ts";
 * import { hex } from "./describe.ts";
 * let message = "";
 * try {
 *   expectEqual(0, 0x74726976, "MagicValue (0x000)", { format: hex });
 * } catch (error) {
 *   message = (error as Error).message;
 * }
 * if (message !== "observed: MagicValue (0x000) was 0x0\n" +
 *   "the spec requires: MagicValue (0x000) to be 0x74726976") throw new Error(message);
 * ```
 *
 * @module
 */

import type { ConformanceLog } from "../../conformance/log.ts";
import { asError, describe, firstLine } from "./describe.ts";
import { isNotWrittenYet, isPermissionError } from "./explain.ts";
import { GradeFailure, type GradeFailureInit } from "./failure.ts";

/** Options shared by the `expect*` helpers. */
export interface ExpectOptions {
  /** Requirement id, when it differs from the check's. */
  readonly requirement?: string;
  /** Hint number, when it differs from the check's. */
  readonly hint?: number;
  /** What the spec requires, in words (replaces the generated "X to be Y"). */
  readonly requires?: string;
  /** One more line of explanation. */
  readonly note?: string;
}

/** Options of {@linkcode expectEqual}. */
export interface ExpectEqualOptions<T> extends ExpectOptions {
  /** How to show values (default {@linkcode describe}); `hex` suits registers. */
  readonly format?: (value: T) => string;
}

/**
 * Fails the check.
 *
 * @param init What was observed and what is required.
 * @throws {GradeFailure} Always.
 */
export function fail(init: GradeFailureInit): never {
  throw new GradeFailure(init);
}

/**
 * Fails the check unless `condition` holds.
 *
 * @param condition What must be true.
 * @param init What was observed and what is required, used when it is false.
 * @throws {GradeFailure} When `condition` is false.
 */
export function expect(condition: unknown, init: GradeFailureInit): asserts condition {
  if (!condition) throw new GradeFailure(init);
}

/**
 * Fails unless `actual` deep-equals `expected` (numbers, bigints, strings,
 * arrays, typed arrays, plain objects).
 *
 * @param actual What the implementation produced.
 * @param expected What the spec requires.
 * @param what What the value is, e.g. `"MagicValue (0x000)"`.
 * @param options Formatting and overrides.
 * @throws {GradeFailure} Observed "`what` was `actual`", required "`what` to be `expected`".
 */
export function expectEqual<T>(
  actual: T,
  expected: T,
  what: string,
  options: ExpectEqualOptions<T> = {},
): void {
  if (deepEqual(actual, expected)) return;
  const show = options.format ?? ((v: T) => describe(v));
  throw new GradeFailure({
    observed: `${what} was ${safeShow(show, actual)}`,
    expected: options.requires ?? `${what} to be ${safeShow(show, expected)}`,
    requirement: options.requirement,
    hint: options.hint,
    note: options.note,
  });
}

function safeShow<T>(show: (v: T) => string, value: T): string {
  try {
    return show(value);
  } catch {
    return describe(value);
  }
}

/** Options of {@linkcode expectThrows}. */
export interface ExpectThrowsOptions extends ExpectOptions {
  /** What the spec requires, in words (required: there is no generated default worth reading). */
  readonly requires: string;
  /** Accepts only some errors (e.g. `(e) => e instanceof RangeError`). */
  readonly accept?: (error: unknown) => boolean;
}

/**
 * Fails unless `fn` throws (or rejects). A stub's `todo()` and a refused
 * permission are passed through, so a stub never "passes" by throwing.
 *
 * @param fn The call that must fail.
 * @param what The call, in words, e.g. `"reading QueueNotify (0x050)"`.
 * @param options What the spec requires, and which errors count.
 * @returns The error thrown.
 * @throws {GradeFailure} When `fn` returns normally or throws an error `accept` refuses.
 */
export async function expectThrows(
  fn: () => unknown,
  what: string,
  options: ExpectThrowsOptions,
): Promise<unknown> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error) {
    if (isNotWrittenYet(error) || isPermissionError(error)) throw error;
    if (options.accept && !options.accept(error)) {
      const e = asError(error);
      throw new GradeFailure({
        observed: `${what} threw ${e.name}: ${firstLine(e.message)}`,
        expected: options.requires,
        requirement: options.requirement,
        hint: options.hint,
        note: options.note,
      });
    }
    return error;
  }
  throw new GradeFailure({
    observed: `${what} returned ${describe(result)} without an error`,
    expected: options.requires,
    requirement: options.requirement,
    hint: options.hint,
    note: options.note,
  });
}

/**
 * Fails unless the conformance log recorded a violation of `id` (use it to
 * check that a learner's device or driver *notices* the other side breaking
 * a rule).
 *
 * @param log The machine's conformance log.
 * @param id The requirement id that must have been reported.
 * @param after What was done, in words, e.g. `"a 16-bit read of Status"`.
 * @param options Overrides.
 * @throws {GradeFailure} When no such violation was recorded.
 */
export function expectViolation(
  log: ConformanceLog,
  id: string,
  after: string,
  options: ExpectOptions = {},
): void {
  if (log.has(id)) return;
  const others = log.entries.map((v) => v.id);
  throw new GradeFailure({
    observed: `after ${after}, no violation of ${id} was reported` +
      (others.length ? ` (reported: ${[...new Set(others)].join(", ")})` : " (the log is empty)"),
    expected: options.requires ?? `${after} to be reported as a violation of ${id}`,
    requirement: options.requirement ?? id,
    hint: options.hint,
    note: options.note,
  });
}

/**
 * Fails if the conformance log recorded any violation.
 *
 * @param log The machine's conformance log.
 * @param during What was done, in words.
 * @param options Overrides.
 * @throws {GradeFailure} Listing the first violation.
 */
export function expectNoViolations(
  log: ConformanceLog,
  during: string,
  options: ExpectOptions = {},
): void {
  const first = log.entries[0];
  if (!first) return;
  throw new GradeFailure({
    observed: `during ${during}, ${log.entries.length} violation(s) were reported, first ` +
      `§${first.id}: ${first.message}`,
    expected: options.requires ?? `${during} to follow the spec (no violations)`,
    requirement: options.requirement ?? first.id,
    hint: options.hint,
    note: options.note,
  });
}

/**
 * Structural equality for the values graders compare: `Object.is` for
 * primitives, element-wise for typed arrays of the same type, arrays, `Map`s
 * and `Set`s (in order), own enumerable keys for other objects.
 *
 * @param a One value.
 * @param b The other.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return a.constructor === b.constructor && x.length === y.length &&
      x.every((v, i) => v === y[i]);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set) {
    if (!(a instanceof Map && b instanceof Map) && !(a instanceof Set && b instanceof Set)) {
      return false;
    }
    return deepEqual([...a], [...(b as Iterable<unknown>)]);
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.hasOwn(b as object, k) &&
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}
