// Mistake: the status decoded into independent flags, and "live" computed
// from the DRIVER_OK and FEATURES_OK flags alone, so a device that the driver
// gave up on (FAILED) still goes live when DRIVER_OK arrives.
// Source: NetBSD PR kern/57357 (virtio_mmio.c rev. 1.8 and 1.10, virtio.c,
// netbsd-10 ticket #186): attach state kept as flags allowed combinations that
// make no sense, "like FINISHED|FAILED"; fixed with a state enumeration.
// Must fail: "DRIVER_OK after FEATURES_OK makes the device live" [2.1.2/1]

import type { RuleBreak, StatusTransition } from "../../../../transport/device_status.ts";

export {
  addStatus,
  beginInitialization,
  failDevice,
  resetDevice,
} from "../correct/bit_arithmetic.ts";

interface Flags {
  acknowledge: boolean;
  driver: boolean;
  driverOk: boolean;
  featuresOk: boolean;
  needsReset: boolean;
  failed: boolean;
}

const decode = (s: number): Flags => ({
  acknowledge: !!(s & 0x01),
  driver: !!(s & 0x02),
  driverOk: !!(s & 0x04),
  featuresOk: !!(s & 0x08),
  needsReset: !!(s & 0x40),
  failed: !!(s & 0x80),
});
const encode = (f: Flags) =>
  (f.acknowledge ? 0x01 : 0) | (f.driver ? 0x02 : 0) | (f.driverOk ? 0x04 : 0) |
  (f.featuresOk ? 0x08 : 0) | (f.needsReset ? 0x40 : 0) | (f.failed ? 0x80 : 0);

export function nextDeviceStatus(current: number, written: number): StatusTransition {
  if ((written & 0xff) === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const was = decode(current);
  const asked = decode(written & 0xff);
  const violations: RuleBreak[] = [];
  const next: Flags = { ...was };
  for (const key of ["acknowledge", "driver", "driverOk", "featuresOk", "failed"] as const) {
    if (was[key] && !asked[key]) violations.push({ id: "2.1.1/2", message: `${key} cleared` });
    next[key] = was[key] || asked[key];
  }
  const added = encode(next) & ~current;
  if (was.failed && (added & ~0x80)) {
    violations.push({ id: "2.1.1/3", message: "bits after FAILED" });
  }
  if (next.driver && !was.driver && !next.acknowledge) {
    violations.push({ id: "3.1.1/1", message: "DRIVER early" });
  }
  if (next.featuresOk && !was.featuresOk && !next.driver) {
    violations.push({ id: "3.1.1/1", message: "FEATURES_OK early" });
  }
  if (next.driverOk && !was.driverOk && !next.featuresOk) {
    violations.push({ id: "3.1.1/1", message: "DRIVER_OK early" });
  }
  return {
    status: encode(next),
    reset: false,
    negotiate: next.featuresOk && !was.featuresOk,
    activate: next.driverOk && !was.driverOk && next.featuresOk,
    violations,
  };
}
