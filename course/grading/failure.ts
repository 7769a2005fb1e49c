/**
 * {@linkcode GradeFailure}: a failed check, with what was observed, what the
 * spec requires, where (section and requirement id) and which hint to read.
 *
 * @example
 * ```ts
 * import { GradeFailure } from "./failure.ts";
 * const failure = new GradeFailure({
 *   observed: "MagicValue (0x000) read 0x0",
 *   expected: "MagicValue to read 0x74726976",
 *   requirement: "4.2.2.1/1",
 *   hint: 2,
 * }, "deno task lab hint 1 2");
 * if (!failure.message.startsWith("observed: MagicValue (0x000) read 0x0\n")) throw new Error();
 * if (!failure.message.endsWith("read hint 2: deno task lab hint 1 2")) throw new Error();
 * ```
 *
 * @module
 */

import { findRequirement } from "../../conformance/requirements.ts";

/** What a {@linkcode GradeFailure} is built from. */
export interface GradeFailureInit {
  /** What the check saw, e.g. `"MagicValue (0x000) read 0x0"`. */
  readonly observed: string;
  /** What the spec requires, e.g. `"MagicValue to read 0x74726976"`. */
  readonly expected: string;
  /** Requirement id; defaults to the check's. */
  readonly requirement?: string;
  /** Hint number; defaults to the check's. */
  readonly hint?: number;
  /** One more line of explanation, printed after the hint pointer. */
  readonly note?: string;
}

/**
 * A failed check, with what was observed, what the spec requires, where
 * (section and requirement id) and which hint to read. Its `message` is the
 * teaching text:
 *
 * ```text
 * observed: MagicValue (0x000) read 0x0
 * the spec requires: MagicValue to read 0x74726976 (§4.2.2.1, requirement 4.2.2.1/1)
 * read hint 2: deno task lab hint 1 2
 * ```
 *
 * Its `stack` is the message alone (a learner needs no frames from the grader).
 */
export class GradeFailure extends Error {
  /** What the check saw. */
  readonly observed: string;
  /** What the spec requires. */
  readonly expected: string;
  /** Requirement id, when known (always set once the failure leaves a check). */
  readonly requirement: string | undefined;
  /** Hint number, when known. */
  readonly hint: number | undefined;
  /** The command that shows the hint, when known. */
  readonly hintCommand: string | undefined;
  /** An extra line of explanation. */
  readonly note: string | undefined;

  /**
   * Builds the failure and its teaching message.
   *
   * @param init What was observed and what is required.
   * @param hintCommand The command that shows the hint (set when the failure leaves a check).
   */
  constructor(init: GradeFailureInit, hintCommand?: string) {
    super(formatFailure(init, hintCommand));
    this.name = "GradeFailure";
    this.observed = init.observed;
    this.expected = init.expected;
    this.requirement = init.requirement;
    this.hint = init.hint;
    this.hintCommand = hintCommand;
    this.note = init.note;
    this.stack = `${this.name}: ${this.message}`;
  }
}

function formatFailure(init: GradeFailureInit, hintCommand: string | undefined): string {
  const lines = [`observed: ${init.observed}`];
  let where = "";
  if (init.requirement) {
    const req = findRequirement(init.requirement);
    where = req
      ? ` (§${req.section}, requirement ${req.id})`
      : ` (requirement ${init.requirement})`;
  }
  lines.push(`the spec requires: ${init.expected}${where}`);
  if (init.hint !== undefined) {
    lines.push(hintCommand ? `read hint ${init.hint}: ${hintCommand}` : `read hint ${init.hint}`);
  }
  if (init.note) lines.push(init.note);
  return lines.join("\n");
}
