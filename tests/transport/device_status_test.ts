import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkDriverFeatures,
  markNeedsReset,
  nextDeviceStatus,
} from "../../transport/device_status.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET as NEEDS_RESET,
} from "../../virtio/status.ts";
import { features, VIRTIO_F_EVENT_IDX, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";

const ids = (t: ReturnType<typeof nextDeviceStatus>) => t.violations.map((v) => v.id);

Deno.test("writing 0 resets (2.4.1/1)", () => {
  const t = nextDeviceStatus(ACK | DRIVER | FEATURES_OK | DRIVER_OK, 0);
  assert.deepEqual(t, {
    status: 0,
    reset: true,
    negotiate: false,
    activate: false,
    violations: [],
  });
});

Deno.test("the §3.1.1 sequence walks through without violations", () => {
  let status = 0;
  const steps: [number, Partial<ReturnType<typeof nextDeviceStatus>>][] = [
    [ACK, {}],
    [ACK | DRIVER, {}],
    [ACK | DRIVER | FEATURES_OK, { negotiate: true }],
    [ACK | DRIVER | FEATURES_OK | DRIVER_OK, { activate: true }],
  ];
  for (const [written, flags] of steps) {
    const t = nextDeviceStatus(status, written);
    assert.deepEqual(t.violations, []);
    assert.equal(t.status, written);
    assert.equal(t.negotiate, flags.negotiate ?? false);
    assert.equal(t.activate, flags.activate ?? false);
    status = t.status;
  }
});

Deno.test("clearing a bit is refused and logged (2.1.1/2)", () => {
  const t = nextDeviceStatus(ACK | DRIVER, ACK);
  assert.equal(t.status, ACK | DRIVER);
  assert.deepEqual(ids(t), ["2.1.1/2"]);
  assert.match(t.violations[0].message, /clearing DRIVER/);
});

Deno.test("FAILED is sticky, and new bits after FAILED break 2.1.1/3", () => {
  const failed = nextDeviceStatus(ACK | DRIVER, ACK | DRIVER | FAILED);
  assert.equal(failed.status, ACK | DRIVER | FAILED);
  assert.deepEqual(ids(failed), []);
  const cleared = nextDeviceStatus(failed.status, ACK | DRIVER);
  assert.equal(cleared.status & FAILED, FAILED);
  assert.deepEqual(ids(cleared), ["2.1.1/2"]);
  const again = nextDeviceStatus(failed.status, ACK | DRIVER | FAILED | FEATURES_OK);
  assert.ok(ids(again).includes("2.1.1/3"));
  assert.equal(again.activate, false);
});

Deno.test("out-of-order bits break 3.1.1/1; DRIVER_OK without FEATURES_OK does not activate", () => {
  assert.deepEqual(ids(nextDeviceStatus(0, DRIVER)), ["3.1.1/1"]);
  assert.deepEqual(ids(nextDeviceStatus(ACK, ACK | FEATURES_OK)), ["3.1.1/1"]);
  const early = nextDeviceStatus(ACK | DRIVER, ACK | DRIVER | DRIVER_OK);
  assert.deepEqual(ids(early), ["3.1.1/1"]);
  assert.equal(early.activate, false);
  assert.equal(early.status, ACK | DRIVER | DRIVER_OK);
});

Deno.test("DEVICE_NEEDS_RESET belongs to the device: the driver neither sets nor clears it", () => {
  const set = nextDeviceStatus(ACK, ACK | NEEDS_RESET);
  assert.equal(set.status, ACK);
  assert.deepEqual(ids(set), []);
  const kept = nextDeviceStatus(ACK | NEEDS_RESET, ACK | DRIVER);
  assert.equal(kept.status, ACK | DRIVER | NEEDS_RESET);
  assert.deepEqual(ids(kept), []);
});

Deno.test("reserved status bits are dropped", () => {
  assert.equal(nextDeviceStatus(0, ACK | 0x30).status, ACK);
});

Deno.test("property: a nonzero write never loses a driver-owned bit and never invents one", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xff }),
      fc.integer({ min: 1, max: 0xff }),
      (current, written) => {
        const t = nextDeviceStatus(current, written);
        const owned = 0xcf & ~NEEDS_RESET;
        assert.equal(t.reset, (written & 0xff) === 0);
        assert.equal(t.status & current & owned, current & owned);
        assert.equal(t.status & ~(current | written), 0);
      },
    ),
  );
});

Deno.test("checkDriverFeatures: unoffered bits are refused (2.2.1/1), VERSION_1 is required (6.1/1)", () => {
  const offered = features(VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, 5);
  assert.deepEqual(checkDriverFeatures(offered, features(VIRTIO_F_VERSION_1, 5)), {
    ok: true,
    features: features(VIRTIO_F_VERSION_1, 5),
  });
  const extra = checkDriverFeatures(offered, features(VIRTIO_F_VERSION_1, 9), { 9: "FAKE_F_NINE" });
  assert.ok(!extra.ok && extra.requirement === "2.2.1/1" && /FAKE_F_NINE/.test(extra.reason));
  const noVersion = checkDriverFeatures(offered, features(5));
  assert.ok(!noVersion.ok && noVersion.requirement === "6.1/1");
  // A legacy-only device (no VERSION_1 offered) is not held to 6.1/1.
  assert.equal(checkDriverFeatures(features(5), features(5)).ok, true);
});

Deno.test("markNeedsReset sets DEVICE_NEEDS_RESET and nothing else, and notifies once, only a live driver (2.1.2/2, 2.1.2/3)", () => {
  for (let status = 0; status < 0x100; status++) {
    const t = markNeedsReset(status);
    assert.equal(t.status, status | NEEDS_RESET, `status ${status}`);
    const asked = (status & NEEDS_RESET) !== 0;
    assert.equal(t.notify, !asked && (status & DRIVER_OK) !== 0, `status ${status}`);
  }
});
