/**
 * What exercise stubs throw where the learner's code goes. A grader that
 * meets one explains it as "`name()` is not written yet" instead of showing a
 * stack trace.
 *
 * @example
 * ```ts
 * import { todo } from "./stub.ts";
 * export function queueAlignment(size: number): number {
 *   return todo("queueAlignment", "return the alignment of the used ring for this queue size");
 * }
 * ```
 *
 * @module
 */

/** Thrown by {@linkcode todo}: this part of the exercise is not written yet. */
export class NotWrittenYetError extends Error {
  /** The function or method that is not written yet, e.g. `"checkRegisterAccess"`. */
  readonly what: string;

  /**
   * Marks a part of the exercise as not written yet.
   *
   * @param what The function or method that is not written yet.
   * @param task What to write there, in a few words.
   */
  constructor(what: string, task = "") {
    super(task ? `TODO: ${task}` : "TODO");
    this.name = "NotWrittenYetError";
    this.what = what;
  }
}

/**
 * Marks a part of an exercise the learner has to write.
 *
 * @param what The function or method's name, e.g. `"checkRegisterAccess"`.
 * @param task What to write there, in a few words.
 * @throws {NotWrittenYetError} Always.
 */
export function todo(what: string, task = ""): never {
  throw new NotWrittenYetError(what, task);
}
