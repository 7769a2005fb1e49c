// Correct: the variations the contract allows. The order rule is reported
// once for all the bits out of order; the reset loop is a do/while that
// counts its reads; beginInitialization reads Status before resetting;
// failDevice is its own read-modify-write.

import type { RuleBreak, StatusTransition } from "../../../../transport/device_status.ts";
import { DeviceResetError } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const ACK = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 0x40, FAILED = 0x80;
const DRIVER_BITS = ACK | DRIVER | DRIVER_OK | FEATURES_OK | FAILED;

export function nextDeviceStatus(current: number, written: number): StatusTransition {
  const w = written & 0xff;
  if (w === 0) return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  const status = current | (w & DRIVER_BITS);
  const added = status & ~current;
  const violations: RuleBreak[] = [];
  if ((current & DRIVER_BITS & ~w) !== 0) {
    violations.push({ id: "2.1.1/2", message: "A status bit was cleared" });
  }
  if ((current & FAILED) !== 0 && (added & ~FAILED) !== 0) {
    violations.push({ id: "2.1.1/3", message: "Initialization continued after FAILED" });
  }
  const early = [[DRIVER, ACK], [FEATURES_OK, DRIVER], [DRIVER_OK, FEATURES_OK]]
    .filter(([bit, before]) => (added & bit) !== 0 && (status & before) === 0);
  if (early.length > 0) {
    violations.push({ id: "3.1.1/1", message: `${early.length} bit(s) set out of order` });
  }
  return {
    status: status | (current & NEEDS_RESET),
    reset: false,
    negotiate: (added & FEATURES_OK) !== 0,
    activate: (added & DRIVER_OK) !== 0 && (status & (FEATURES_OK | FAILED)) === FEATURES_OK,
    violations,
  };
}

export function resetDevice(window: RegisterWindow, maxPolls = 1000): void {
  window.write32(0x70, 0);
  let polls = 0;
  let status: number;
  do {
    status = window.read32(0x70);
    polls++;
  } while (status !== 0 && polls < maxPolls);
  if (status !== 0) throw new DeviceResetError(status, polls);
}

export function addStatus(window: RegisterWindow, bits: number): number {
  const value = 0xff & (bits | window.read32(0x70));
  window.write32(0x70, value);
  return value;
}

export function beginInitialization(window: RegisterWindow): void {
  const stale = window.read32(0x70) !== 0; // a look first: a driver may read before it resets
  resetDevice(window, stale ? 1000 : 100);
  addStatus(window, ACK);
  addStatus(window, DRIVER);
}

export function failDevice(window: RegisterWindow): void {
  const now = window.read32(0x70);
  window.write32(0x70, (now | FAILED) & 0xff);
}
