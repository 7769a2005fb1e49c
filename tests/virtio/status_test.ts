// Tests for virtio/status.ts: the device status bits of §2.1 and their names.

import assert from "node:assert/strict";
import {
  formatStatus,
  STATUS_BITS,
  STATUS_DEFINED_MASK,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../../virtio/status.ts";

Deno.test("status bits have the values of §2.1", () => {
  assert.equal(VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
  assert.equal(VIRTIO_CONFIG_S_DRIVER, 2);
  assert.equal(VIRTIO_CONFIG_S_DRIVER_OK, 4);
  assert.equal(VIRTIO_CONFIG_S_FEATURES_OK, 8);
  assert.equal(VIRTIO_CONFIG_S_NEEDS_RESET, 64);
  assert.equal(VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET, VIRTIO_CONFIG_S_NEEDS_RESET);
  assert.equal(VIRTIO_CONFIG_S_FAILED, 128);
});

Deno.test("STATUS_BITS lists every defined bit once, ascending, and the mask is 0xcf", () => {
  const bits = STATUS_BITS.map((b) => b.bit);
  assert.deepEqual(bits, [1, 2, 4, 8, 64, 128]);
  assert.deepEqual(
    STATUS_BITS.map((b) => b.name),
    ["ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK", "DEVICE_NEEDS_RESET", "FAILED"],
  );
  assert.equal(STATUS_DEFINED_MASK, 0xcf);
  assert.equal(STATUS_DEFINED_MASK & 0x30, 0, "bits 4 and 5 are reserved");
});

Deno.test("formatStatus names the bits in ascending order", () => {
  assert.equal(formatStatus(0), "0 (reset)");
  assert.equal(formatStatus(0x01), "ACKNOWLEDGE");
  assert.equal(formatStatus(0x03), "ACKNOWLEDGE|DRIVER");
  assert.equal(formatStatus(0x0b), "ACKNOWLEDGE|DRIVER|FEATURES_OK");
  assert.equal(formatStatus(0x0f), "ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK");
  assert.equal(formatStatus(0x40), "DEVICE_NEEDS_RESET");
  assert.equal(formatStatus(0x83), "ACKNOWLEDGE|DRIVER|FAILED");
});

Deno.test("formatStatus names reserved bits bit4 and bit5", () => {
  assert.equal(formatStatus(0x10), "bit4");
  assert.equal(formatStatus(0x30), "bit4|bit5");
  assert.equal(
    formatStatus(0xff),
    "ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK|bit4|bit5|DEVICE_NEEDS_RESET|FAILED",
  );
});

Deno.test("formatStatus gives every non-zero byte a non-empty name with one part per bit", () => {
  for (let s = 1; s < 256; s++) {
    const parts = formatStatus(s).split("|");
    let count = 0;
    for (let b = 0; b < 8; b++) if (s & (1 << b)) count++;
    assert.equal(parts.length, count, `status 0x${s.toString(16)}`);
    assert.ok(parts.every((p) => p !== ""));
  }
});
