/**
 * Features the lab machine withholds from a learner's code until the lesson
 * that teaches them: `lessons/manifest.json` → `features`, e.g.
 * `{ "name": "VIRTIO_F_INDIRECT_DESC", "unlockedBy": "indirect-descriptors" }`.
 * A chain walker written before the indirect-descriptor lesson must never
 * meet an indirect table, so `--mine` machines and the graders' machines are
 * built with those feature bits masked off (`createMachine({ featureMask })`)
 * until the unlocking lesson has passed (or, for a grader, until the graded
 * lesson is that lesson or a later one). `unlockedBy: null` means the lesson
 * that teaches the feature is not in the course yet: the feature stays
 * withheld.
 *
 * Pure functions over the manifest's data, so the graders' kit can use the
 * manifest it imports statically.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { featureMaskFor } from "./features.ts";
 * const manifest = {
 *   features: [{ name: "VIRTIO_F_EVENT_IDX", unlockedBy: "event-idx" }],
 *   lessons: [{ id: "mmio-window" }, { id: "event-idx" }],
 * };
 * assert.equal(featureMaskFor(manifest, () => false), ~(1n << 29n) & ((1n << 64n) - 1n));
 * assert.equal(featureMaskFor(manifest, (id) => id === "event-idx"), (1n << 64n) - 1n);
 * ```
 *
 * @module
 */

import { featureMask, RESERVED_FEATURE_NAMES } from "../virtio/features.ts";
import { VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES } from "../devices/blk/constants.ts";

/** Every feature bit: the mask of a machine that withholds nothing. */
export const ALL_FEATURES: bigint = (1n << 64n) - 1n;

/** One entry of the manifest's `features`. */
export interface WithheldFeature {
  /** The feature's name, e.g. `"VIRTIO_F_EVENT_IDX"`. */
  readonly name: string;
  /** The id of the lesson that teaches it, or `null` when that lesson is not written yet. */
  readonly unlockedBy: string | null;
}

/** What these functions read of a manifest. */
export interface ManifestFeatures {
  /** The withheld features. */
  readonly features?: readonly WithheldFeature[];
  /** The lessons, in course order (only their ids are read). */
  readonly lessons: readonly { readonly id: string }[];
}

/**
 * Device-type feature bits the manifest may withhold too. A device-type bit
 * number means something else on another device type, and the mask applies
 * to every device of the machine: a bit belongs here only when no other
 * device of the lab defines it (the console's bits are 0 to 2).
 */
const DEVICE_BITS: readonly (readonly [string, number])[] = [
  ["VIRTIO_BLK_F_DISCARD", VIRTIO_BLK_F_DISCARD],
  ["VIRTIO_BLK_F_WRITE_ZEROES", VIRTIO_BLK_F_WRITE_ZEROES],
];

const BITS: ReadonlyMap<string, number> = new Map([
  ...Object.entries(RESERVED_FEATURE_NAMES).map(([bit, name]) => [name, Number(bit)] as const),
  ...DEVICE_BITS,
]);

/**
 * The bit number of a feature the manifest may withhold.
 *
 * @param name Such as `"VIRTIO_F_INDIRECT_DESC"`.
 * @returns The bit, or `undefined` for a name that is not a transport feature bit.
 */
export function featureBit(name: string): number | undefined {
  return BITS.get(name);
}

/**
 * The features withheld while some lessons are unlocked, in manifest order.
 *
 * @param manifest The manifest's `features` and `lessons`.
 * @param unlocked Whether a lesson (by id) counts as unlocking its features.
 * @returns The withheld features' names.
 */
export function withheldFeatureNames(
  manifest: ManifestFeatures,
  unlocked: (lessonId: string) => boolean,
): string[] {
  return (manifest.features ?? [])
    .filter((f) => f.unlockedBy === null || !unlocked(f.unlockedBy))
    .map((f) => f.name);
}

/**
 * The `featureMask` for a machine while some lessons are unlocked: every bit
 * but the withheld features'.
 *
 * @param manifest The manifest's `features` and `lessons`.
 * @param unlocked Whether a lesson (by id) counts as unlocking its features.
 */
export function featureMaskFor(
  manifest: ManifestFeatures,
  unlocked: (lessonId: string) => boolean,
): bigint {
  let mask = ALL_FEATURES;
  for (const name of withheldFeatureNames(manifest, unlocked)) {
    const bit = BITS.get(name);
    if (bit !== undefined) mask &= ~featureMask(bit);
  }
  return mask;
}

/**
 * The `featureMask` a grader's machine uses for a lesson: features taught by
 * that lesson or an earlier one are offered, later ones withheld.
 *
 * @param manifest The manifest's `features` and `lessons`.
 * @param lessonId The graded lesson's id.
 * @throws {RangeError} When the manifest has no lesson with that id.
 */
export function featureMaskThrough(manifest: ManifestFeatures, lessonId: string): bigint {
  const position = manifest.lessons.findIndex((l) => l.id === lessonId);
  if (position < 0) throw new RangeError(`The course has no lesson "${lessonId}"`);
  const upTo = new Set(manifest.lessons.slice(0, position + 1).map((l) => l.id));
  return featureMaskFor(manifest, (id) => upTo.has(id));
}
