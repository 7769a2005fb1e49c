// course/features.ts: which feature bits a machine withholds for a learner's progress or a lesson.
import assert from "node:assert/strict";
import {
  ALL_FEATURES,
  featureBit,
  featureMaskFor,
  featureMaskThrough,
  withheldFeatureNames,
} from "../../course/features.ts";
import {
  featureMask,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_RESET,
} from "../../virtio/features.ts";
import { loadCourse } from "../../course/manifest.ts";
import { defaultCourseRoot } from "../../course/paths.ts";

const manifest = {
  features: [
    { name: "VIRTIO_F_INDIRECT_DESC", unlockedBy: "indirect" },
    { name: "VIRTIO_F_EVENT_IDX", unlockedBy: "event-idx" },
    { name: "VIRTIO_F_RING_RESET", unlockedBy: null },
  ],
  lessons: [{ id: "window" }, { id: "indirect" }, { id: "event-idx" }],
};
const INDIRECT = featureMask(VIRTIO_F_INDIRECT_DESC);
const EVENT_IDX = featureMask(VIRTIO_F_EVENT_IDX);
const RESET = featureMask(VIRTIO_F_RING_RESET);

Deno.test("a feature is withheld until its lesson unlocks it; null means never yet", () => {
  assert.equal(
    featureMaskFor(manifest, () => false),
    ALL_FEATURES & ~(INDIRECT | EVENT_IDX | RESET),
  );
  assert.deepEqual(withheldFeatureNames(manifest, (id) => id === "indirect"), [
    "VIRTIO_F_EVENT_IDX",
    "VIRTIO_F_RING_RESET",
  ]);
  assert.equal(featureMaskFor(manifest, () => true), ALL_FEATURES & ~RESET);
  assert.equal(featureMaskFor({ lessons: [] }, () => false), ALL_FEATURES);
});

Deno.test("a lesson's grader machine offers the features of that lesson and the earlier ones", () => {
  assert.equal(
    featureMaskThrough(manifest, "window"),
    ALL_FEATURES & ~(INDIRECT | EVENT_IDX | RESET),
  );
  assert.equal(featureMaskThrough(manifest, "indirect"), ALL_FEATURES & ~(EVENT_IDX | RESET));
  assert.equal(featureMaskThrough(manifest, "event-idx"), ALL_FEATURES & ~RESET);
  assert.throws(() => featureMaskThrough(manifest, "nope"), RangeError);
});

Deno.test("feature bits by name, and the course withholds the lesson-taught features", () => {
  assert.equal(featureBit("VIRTIO_F_EVENT_IDX"), 29);
  assert.equal(featureBit("VIRTIO_BLK_F_DISCARD"), 13);
  assert.equal(featureBit("VIRTIO_BLK_F_WRITE_ZEROES"), 14);
  // A device-type bit another device of the lab could mean otherwise is not withheld by name.
  assert.equal(featureBit("VIRTIO_BLK_F_RO"), undefined);
  const course = loadCourse(defaultCourseRoot());
  assert.deepEqual(course.features.map((f) => f.name).sort(), [
    "VIRTIO_BLK_F_DISCARD",
    "VIRTIO_BLK_F_WRITE_ZEROES",
    "VIRTIO_F_EVENT_IDX",
    "VIRTIO_F_INDIRECT_DESC",
    "VIRTIO_F_RING_PACKED",
    "VIRTIO_F_RING_RESET",
  ]);
});
