/**
 * Known bugs of the reference implementation that the engine finds, each
 * with a pointer to the issue that tracks it. A failure that matches one is
 * kept in the report, marked `known`, and does not fail the run; the
 * regression tests (`tests/fuzz/regressions_test.ts`) check that the seed that
 * found it still does, so fixing the bug makes that test say to move the case
 * from here to the fixed list.
 *
 * @module
 */

import type { FuzzFailure } from "./types.ts";

/** A known bug: how to recognize its failures, and where it is tracked. */
export interface KnownIssue {
  /** Where it is tracked and what it is, in one line. */
  readonly issue: string;
  /**
   * Whether a failure is this bug.
   *
   * @param failure A failure the engine found.
   */
  readonly matches: (failure: FuzzFailure) => boolean;
}

/** The known bugs of the reference (empty when none is open). */
export const KNOWN_ISSUES: readonly KnownIssue[] = Object.freeze([]);
