// Mistake: the legacy status byte keeps FEATURES_OK like the modern one: the
// bit is reported, then stored, so the device shows a step it does not have.
// Source: NetBSD sys/dev/virtio/virtio_mmio.c rev. 1.12-1.13 (January 2024): one feature negotiation served both personalities until 1.13 split them.
// Must fail: "FEATURES_OK is not a legacy status bit" [4.2.4/D4]

import type { RuleBreak, StatusTransition } from "../../../../transport/device_status.ts";

export function nextLegacyDeviceStatus(current: number, written: number): StatusTransition {
  const value = written & 0xff;
  if (value === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const violations: RuleBreak[] = [];
  if (value & 8) violations.push({ id: "4.2.4/D4", message: "no FEATURES_OK here" });
  const status = (current & 0xcf) | (value & 0x8f);
  const added = status & ~current;
  if (current & 0x87 & ~value) violations.push({ id: "2.1.1/2", message: "cleared a bit" });
  if ((current & 0x80) && (added & ~0x80)) {
    violations.push({ id: "2.1.1/3", message: "after FAILED" });
  }
  if ((added & 2) && !(status & 1)) violations.push({ id: "3.1.1/1", message: "DRIVER early" });
  if ((added & 4) && !(status & 2)) violations.push({ id: "3.1.1/1", message: "DRIVER_OK early" });
  const activate = (added & 4) !== 0 && (status & 0x80) === 0;
  return { status, reset: false, negotiate: false, activate, violations };
}

export {
  negotiateLegacyFeatures,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
