/**
 * Every failure the engine ever found, kept as a regression case: the
 * target, the seed and step that found it, the parts it ran on (a planted
 * bug's name, or `null` for the reference), and what it found.
 * `tests/fuzz/regressions_test.ts` replays each: a planted bug must still be
 * found at its step, and a reference case must stay fixed (the step passes).
 * Add a line here for each new failure `lab fuzz` prints (its replay line
 * gives the seed and step).
 *
 * @module
 */

import type { FailureKind, FuzzTarget } from "./types.ts";

/** One failure found, and what replaying it must show. */
export interface FuzzRegression {
  /** What was found, in words. */
  readonly what: string;
  /** The target. */
  readonly target: FuzzTarget;
  /** The episode's seed. */
  readonly seed: number;
  /** The step it showed at. */
  readonly step: number;
  /**
   * The planted bug it ran on (`tests/fuzz/planted.ts`), or `null`: the
   * reference, where the case must now pass.
   */
  readonly planted: "trusts-next" | "trusts-used" | null;
  /** How it showed itself. */
  readonly kind: FailureKind;
  /** The invariant, for an `invariant` failure. */
  readonly invariant?: string;
}

/** The cases, oldest first. */
export const FUZZ_REGRESSIONS: readonly FuzzRegression[] = Object.freeze(
  [
    {
      what: "a walk without a loop bound spins on a chain whose last next points back",
      target: "blk",
      seed: 1,
      step: 184,
      planted: "trusts-next",
      kind: "hung",
    },
    {
      what:
        "a walk that trusts next serves a chain that breaks the rules and writes where it points",
      target: "blk",
      seed: 1,
      step: 25,
      planted: "trusts-next",
      kind: "invariant",
      invariant: "served-a-hostile-chain",
    },
    {
      what: "a getBuf that trusts the used id hands back a chain for an id beyond Queue Size",
      target: "driver",
      seed: 1,
      step: 38,
      planted: "trusts-used",
      kind: "silent",
    },
    {
      what: "a getBuf that does not check the used idx takes a jump past what is outstanding",
      target: "driver",
      seed: 1,
      step: 45,
      planted: "trusts-used",
      kind: "silent",
    },
  ] satisfies FuzzRegression[],
);
