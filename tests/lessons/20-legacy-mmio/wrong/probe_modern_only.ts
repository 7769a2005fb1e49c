// Mistake: the modern probe's version test kept: anything but 2 is rejected,
// the legacy devices this driver was written for included.
// Source: none; until rev. 1.12 (January 2024) NetBSD's virtio_mmio had the mirror image, Version 1 only.
// Must fail: "Version 1 and 2 are devices; anything else is rejected" [4.2.2.2/5]

import type { ProbeResult } from "../../../../transport/driver_init.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export function probeTransitionalWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(0x000) >>> 0;
  if (magic !== 0x74726976) {
    return { kind: "rejected", requirement: "4.2.2.2/4", reason: "no magic", magic, version: 0 };
  }
  const version = window.read32(0x004) >>> 0;
  if (version !== 2) {
    return { kind: "rejected", requirement: "4.2.2.2/5", reason: "not version 2", magic, version };
  }
  const deviceId = window.read32(0x008) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  return { kind: "device", deviceId, vendorId: window.read32(0x00c) >>> 0, version };
}

export {
  negotiateLegacyFeatures,
  nextLegacyDeviceStatus,
  setupLegacyQueue,
  stopLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
