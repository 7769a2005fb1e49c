// Tests for virtio/features.ts: feature bit numbers, masks, 32-bit feature
// words (the *FeaturesSel halves of §4.2.2) and names.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  featureMask,
  featureNames,
  features,
  featureWord,
  formatFeatures,
  hasFeature,
  RESERVED_FEATURE_NAMES,
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_NOTIF_CONFIG_DATA,
  VIRTIO_F_NOTIFICATION_DATA,
  VIRTIO_F_ORDER_PLATFORM,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_SR_IOV,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  VIRTIO_TRANSPORT_F_END,
  VIRTIO_TRANSPORT_F_START,
  withFeatureWord,
} from "../../virtio/features.ts";

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

Deno.test("reserved feature bits have the numbers of chapter 6", () => {
  assert.deepEqual(
    [
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_F_EVENT_IDX,
      VIRTIO_F_VERSION_1,
      VIRTIO_F_ACCESS_PLATFORM,
      VIRTIO_F_RING_PACKED,
      VIRTIO_F_IN_ORDER,
      VIRTIO_F_ORDER_PLATFORM,
      VIRTIO_F_SR_IOV,
      VIRTIO_F_NOTIFICATION_DATA,
      VIRTIO_F_NOTIF_CONFIG_DATA,
      VIRTIO_F_RING_RESET,
    ],
    [28, 29, 32, 33, 34, 35, 36, 37, 38, 39, 40],
  );
  assert.equal(VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_F_INDIRECT_DESC);
  assert.equal(VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_EVENT_IDX);
  assert.equal(VIRTIO_TRANSPORT_F_START, 28);
  assert.equal(VIRTIO_TRANSPORT_F_END, 41);
  for (const [bit, name] of Object.entries(RESERVED_FEATURE_NAMES)) {
    assert.ok(Number(bit) >= VIRTIO_TRANSPORT_F_START && Number(bit) < VIRTIO_TRANSPORT_F_END);
    assert.match(name, /^VIRTIO_F_[A-Z_0-9]+$/);
  }
});

Deno.test("featureMask is 1n << bit for every bit 0..63", () => {
  for (let bit = 0; bit < 64; bit++) assert.equal(featureMask(bit), 1n << BigInt(bit));
  assert.equal(featureMask(VIRTIO_F_VERSION_1), 0x1_0000_0000n);
  assert.equal(featureMask(63), 0x8000_0000_0000_0000n);
});

Deno.test("featureMask rejects bits outside 0..63 and non-integers with RangeError", () => {
  for (const bit of [-1, 64, 65, 1.5, NaN, Infinity, -Infinity, 2 ** 53]) {
    assert.throws(
      () => featureMask(bit),
      (e: unknown) => e instanceof RangeError && e.message.includes(String(bit)),
      String(bit),
    );
  }
});

Deno.test("features ORs bit masks; hasFeature tests one bit", () => {
  assert.equal(features(), 0n);
  const word = features(VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, 0, 63);
  assert.equal(word, (1n << 32n) | (1n << 29n) | 1n | (1n << 63n));
  assert.equal(features(5, 5), 1n << 5n);
  assert.ok(hasFeature(word, VIRTIO_F_VERSION_1));
  assert.ok(hasFeature(word, 0));
  assert.ok(!hasFeature(word, VIRTIO_F_INDIRECT_DESC));
  assert.throws(() => features(1, 64), RangeError);
  assert.throws(() => hasFeature(word, -1), RangeError);
});

Deno.test("featureWord selects the low and high 32 bits", () => {
  const word = 0x1234_5678_9abc_def0n;
  assert.equal(featureWord(word, 0), 0x9abc_def0);
  assert.equal(featureWord(word, 1), 0x1234_5678);
  assert.equal(featureWord(0xffff_ffff_ffff_ffffn, 0), 0xffff_ffff);
  assert.equal(featureWord(0xffff_ffff_ffff_ffffn, 1), 0xffff_ffff);
});

Deno.test("featureWord yields 0 for selectors that address no bits", () => {
  for (const select of [2, 3, -1, 0.5, NaN, 0xffff_ffff]) {
    assert.equal(featureWord(0xffff_ffff_ffff_ffffn, select), 0, String(select));
  }
});

Deno.test("withFeatureWord rejects selectors other than 0 and 1", () => {
  for (const select of [2, -1, 0.5, NaN]) {
    assert.throws(() => withFeatureWord(0n, select, 1), RangeError, String(select));
  }
});

Deno.test("property: withFeatureWord then featureWord reads back the value, other half intact", () => {
  fc.assert(
    fc.property(u64, fc.constantFrom(0, 1), u32, (word, select, value) => {
      const next = withFeatureWord(word, select, value);
      assert.equal(featureWord(next, select), value);
      assert.equal(featureWord(next, 1 - select), featureWord(word, 1 - select));
      assert.ok(next >= 0n && next < 1n << 64n);
    }),
  );
});

Deno.test("property: a word rebuilt from its two halves is the same word", () => {
  fc.assert(
    fc.property(u64, (word) => {
      const rebuilt = withFeatureWord(
        withFeatureWord(0n, 0, featureWord(word, 0)),
        1,
        featureWord(word, 1),
      );
      assert.equal(rebuilt, word);
    }),
  );
});

Deno.test("property: withFeatureWord keeps the low 32 bits of the value it is given", () => {
  fc.assert(
    fc.property(
      u64,
      fc.constantFrom(0, 1),
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      (w, s, v) => {
        assert.equal(featureWord(withFeatureWord(w, s, v), s), v >>> 0);
      },
    ),
  );
});

Deno.test("featureNames names set bits in ascending order", () => {
  assert.deepEqual(featureNames(0n), []);
  assert.deepEqual(
    featureNames(features(VIRTIO_F_VERSION_1, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_RESET)),
    ["VIRTIO_F_INDIRECT_DESC", "VIRTIO_F_VERSION_1", "VIRTIO_F_RING_RESET"],
  );
  assert.deepEqual(featureNames(features(0, 9, 30, 63)), ["bit 0", "bit 9", "bit 30", "bit 63"]);
});

Deno.test("featureNames uses device names for device-specific bits", () => {
  const blk = { 5: "VIRTIO_BLK_F_RO", 9: "VIRTIO_BLK_F_FLUSH" };
  assert.deepEqual(
    featureNames(features(9, 5, 1, VIRTIO_F_VERSION_1), blk),
    ["bit 1", "VIRTIO_BLK_F_RO", "VIRTIO_BLK_F_FLUSH", "VIRTIO_F_VERSION_1"],
  );
});

Deno.test("property: featureNames has one name per set bit", () => {
  fc.assert(
    fc.property(u64, (word) => {
      let count = 0;
      for (let b = 0n; b < 64n; b++) if ((word >> b) & 1n) count++;
      assert.equal(featureNames(word).length, count);
    }),
  );
});

Deno.test("formatFeatures shows 16 hex digits", () => {
  assert.equal(formatFeatures(0n), "0x0000000000000000");
  assert.equal(formatFeatures(0x1_0000_0260n), "0x0000000100000260");
  assert.equal(formatFeatures((1n << 64n) - 1n), "0xffffffffffffffff");
});
