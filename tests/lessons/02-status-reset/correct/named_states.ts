// Correct: the status decoded into named bits and decided rule by rule, the
// way the lesson's "What the device decides" table is written; the driver
// keeps its own shadow of what it set (as xv6's virtio_disk_init does) and
// waits for the reset with a while loop.

import type { StatusTransition } from "../../../../transport/device_status.ts";
import { DeviceResetError } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const BITS = {
  ACKNOWLEDGE: 0x01,
  DRIVER: 0x02,
  DRIVER_OK: 0x04,
  FEATURES_OK: 0x08,
  NEEDS_RESET: 0x40,
  FAILED: 0x80,
};
const DEFINED = 0xcf;
const PREREQUISITE: [bit: keyof typeof BITS, needs: keyof typeof BITS][] = [
  ["DRIVER", "ACKNOWLEDGE"],
  ["FEATURES_OK", "DRIVER"],
  ["DRIVER_OK", "FEATURES_OK"],
];

export function nextDeviceStatus(current: number, written: number): StatusTransition {
  const byte = written & 0xff;
  if (byte === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const theirs = byte & DEFINED & ~BITS.NEEDS_RESET;
  const mine = current & BITS.NEEDS_RESET;
  const next = current | theirs | mine;
  const newly = (bit: keyof typeof BITS) => (next & BITS[bit]) !== 0 && (current & BITS[bit]) === 0;
  const holds = (bit: keyof typeof BITS) => (next & BITS[bit]) !== 0;
  const violations: { id: "2.1.1/2" | "2.1.1/3" | "3.1.1/1"; message: string }[] = [];
  const dropped = current & ~BITS.NEEDS_RESET & ~theirs;
  if (dropped !== 0) {
    violations.push({
      id: "2.1.1/2",
      message: `the driver tried to clear 0x${dropped.toString(16)}`,
    });
  }
  if ((current & BITS.FAILED) !== 0 && (next & ~current & ~BITS.FAILED) !== 0) {
    violations.push({ id: "2.1.1/3", message: "initialization went on after FAILED" });
  }
  const misordered = PREREQUISITE.filter(([bit, needs]) => newly(bit) && !holds(needs));
  if (misordered.length > 0) {
    violations.push({
      id: "3.1.1/1",
      message: misordered.map(([bit, needs]) => `${bit} before ${needs}`).join(", "),
    });
  }
  return {
    status: next,
    reset: false,
    negotiate: newly("FEATURES_OK"),
    activate: newly("DRIVER_OK") && holds("FEATURES_OK") && !holds("FAILED"),
    violations,
  };
}

export function resetDevice(window: RegisterWindow, maxPolls = 1000): void {
  window.write32(0x070, 0);
  let polls = 0;
  let status = -1;
  while (polls < maxPolls) {
    status = window.read32(0x070) >>> 0;
    polls++;
    if (status === 0) return;
  }
  throw new DeviceResetError(status, polls);
}

export function addStatus(window: RegisterWindow, bits: number): number {
  const now = window.read32(0x070);
  const next = (now | bits) & 0xff;
  window.write32(0x070, next);
  return next;
}

export function beginInitialization(window: RegisterWindow): void {
  resetDevice(window);
  let shadow = 0;
  for (const bit of [BITS.ACKNOWLEDGE, BITS.DRIVER]) {
    shadow |= bit;
    window.write32(0x070, shadow);
  }
}

export function failDevice(window: RegisterWindow): void {
  window.write32(0x070, window.read32(0x070) | BITS.FAILED);
}
