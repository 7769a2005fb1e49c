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
export const KNOWN_ISSUES: readonly KnownIssue[] = Object.freeze([
  {
    issue:
      "devices/console/driver.ts: on DEVICE_NEEDS_RESET, configChanged's #failTransmit frees " +
      "the transmit buffers in flight and sets job.addr = -1 but leaves their chains in the " +
      "transmitq; a used buffer notification in the same (or a later) interrupt then reaps a " +
      "completion the device wrote before the reset, and #reapTransmit calls " +
      "allocator.free(-1): RangeError out of handleInterrupt (found by console-driver, " +
      "seed 4176287394 step 29; reported to the lead, owned by the console driver's engineers)",
    matches: (f) =>
      f.target === "console-driver" && f.kind === "threw" &&
      /Free of -0x00000001/.test(f.message),
  },
  {
    issue: "devices/blk/driver.ts: configChanged catches only the RangeError of an invalid " +
      "configuration; when ConfigGeneration never settles, readBlockConfig's " +
      "ConfigGenerationError escapes configChanged and handleInterrupt throws it (found by " +
      "blk-driver, seed 616940891 step 44; reported to the lead, owned by the block driver's " +
      "engineers)",
    matches: (f) =>
      f.target === "blk-driver" && f.kind === "threw" &&
      /ConfigGenerationError/.test(f.message),
  },
]);
