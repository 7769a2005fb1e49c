/**
 * The fuzz engine's seeded pseudo-random numbers: a xoroshiro128+ generator
 * (the `pure-rand` package) behind the few draws a hostile driver or device
 * needs. The same seed gives the same draws on every machine and every run,
 * which is what makes a failure's seed and step a reproduction.
 *
 * @module
 */

import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

/**
 * The seed of episode `index` of a run seeded `seed`: episode 0 has the run's
 * own seed, so `--seed <an episode's seed>` replays that episode first.
 *
 * @param seed The run's seed (any 32-bit integer; only the low 32 bits count).
 * @param index The episode's index from 0.
 * @returns A 32-bit unsigned seed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { episodeSeed } from "./rng.ts";
 * assert.equal(episodeSeed(1234, 0), 1234);
 * assert.notEqual(episodeSeed(1234, 1), episodeSeed(1234, 2));
 * ```
 */
export function episodeSeed(seed: number, index: number): number {
  if (index === 0) return seed >>> 0;
  // splitmix32's finalizer over (seed, index): neighbouring indices give unrelated seeds.
  let z = (seed + Math.imul(index, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A seeded source of the draws the fuzz engine makes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FuzzRng } from "./rng.ts";
 * const a = new FuzzRng(7), b = new FuzzRng(7);
 * const draws = () => [a.below(10), a.u32(), a.chance(0.5)];
 * assert.deepEqual(draws(), [b.below(10), b.u32(), b.chance(0.5)]);
 * ```
 */
export class FuzzRng {
  /** The seed it started from (low 32 bits). */
  readonly seed: number;
  readonly #rng: RandomGenerator;

  /**
   * @param seed Any integer; only its low 32 bits count.
   */
  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#rng = xoroshiro128plus(this.seed | 0);
  }

  /**
   * An integer from `min` to `max`, both included.
   *
   * @param min Smallest value.
   * @param max Largest value (at least `min`).
   */
  int(min: number, max: number): number {
    return uniformInt(this.#rng, min, max);
  }

  /**
   * An integer from 0 to `n - 1`.
   *
   * @param n How many values (at least 1).
   */
  below(n: number): number {
    return uniformInt(this.#rng, 0, n - 1);
  }

  /** Any 32-bit unsigned integer. */
  u32(): number {
    return this.#rng.next() >>> 0;
  }

  /**
   * `true` with probability `p`.
   *
   * @param p From 0 to 1.
   */
  chance(p: number): boolean {
    return (this.#rng.next() >>> 0) < p * 0x1_0000_0000;
  }

  /**
   * One element of a non-empty list.
   *
   * @param items The choices.
   */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  /**
   * One of several choices, each as likely as its weight.
   *
   * @param choices Pairs of a weight (non-negative, not all 0) and a value.
   */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((n, [w]) => n + w, 0);
    let x = this.int(0, Math.max(0, Math.ceil(total) - 1));
    for (const [w, value] of choices) {
      if (x < w) return value;
      x -= w;
    }
    return choices[choices.length - 1][1];
  }
}
