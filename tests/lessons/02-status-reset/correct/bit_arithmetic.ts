// Correct: the status as bit arithmetic, the way the lesson's table reads
// (requested bits, cleared bits, added bits), and a driver built on one
// read-modify-write helper, like Linux's virtio_add_status().

import type { RuleBreak, StatusTransition } from "../../../../transport/device_status.ts";
import { DeviceResetError } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import {
  formatStatus,
  STATUS_DEFINED_MASK,
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET as NEEDS_RESET,
} from "../../../../virtio/status.ts";

const STATUS = 0x070;

export function nextDeviceStatus(current: number, written: number): StatusTransition {
  const value = written & 0xff;
  if (value === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const violations: RuleBreak[] = [];
  const requested = value & STATUS_DEFINED_MASK & ~NEEDS_RESET;
  const cleared = current & ~NEEDS_RESET & ~requested;
  if (cleared) {
    violations.push({
      id: "2.1.1/2",
      message: `Write of 0x${value.toString(16)} clears ${formatStatus(cleared)}`,
    });
  }
  const status = current | requested;
  const added = status & ~current;
  if ((current & FAILED) && (added & ~FAILED)) {
    violations.push({
      id: "2.1.1/3",
      message: `${formatStatus(added)} set after FAILED, without a reset`,
    });
  }
  for (
    const [bit, before] of [[DRIVER, ACKNOWLEDGE], [FEATURES_OK, DRIVER], [DRIVER_OK, FEATURES_OK]]
  ) {
    if ((added & bit) && !(status & before)) {
      violations.push({
        id: "3.1.1/1",
        message: `${formatStatus(bit)} before ${formatStatus(before)}`,
      });
    }
  }
  return {
    status,
    reset: false,
    negotiate: (added & FEATURES_OK) !== 0,
    activate: (added & DRIVER_OK) !== 0 && (status & FEATURES_OK) !== 0 && !(status & FAILED),
    violations,
  };
}

export function resetDevice(window: RegisterWindow, maxPolls = 1000): void {
  window.write32(STATUS, 0);
  let last = 0;
  for (let polls = 1; polls <= maxPolls; polls++) {
    last = window.read32(STATUS);
    if (last === 0) return;
  }
  throw new DeviceResetError(last, maxPolls);
}

export function addStatus(window: RegisterWindow, bits: number): number {
  const value = (window.read32(STATUS) | bits) & 0xff;
  window.write32(STATUS, value);
  return value;
}

export function beginInitialization(window: RegisterWindow): void {
  resetDevice(window);
  addStatus(window, ACKNOWLEDGE);
  addStatus(window, DRIVER);
}

export function failDevice(window: RegisterWindow): void {
  addStatus(window, FAILED);
}
