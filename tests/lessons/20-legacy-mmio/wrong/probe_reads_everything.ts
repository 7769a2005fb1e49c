// Mistake: all four identification registers read up front, then judged: an
// empty slot has its VendorID read, which 4.2.3.1.1/2 forbids.
// Source: none.
// Must fail: "a bad magic stops the probe, an empty slot reads no VendorID" [4.2.3.1.1/2]

import type { ProbeResult } from "../../../../transport/driver_init.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export function probeTransitionalWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(0x000) >>> 0;
  if (magic !== 0x74726976) {
    return { kind: "rejected", requirement: "4.2.2.2/4", reason: "no magic", magic, version: 0 };
  }
  const [version, deviceId, vendorId] = [0x004, 0x008, 0x00c].map((o) => window.read32(o) >>> 0);
  if (version !== 1 && version !== 2) {
    return { kind: "rejected", requirement: "4.2.2.2/5", reason: "bad version", magic, version };
  }
  return deviceId === 0 ? { kind: "empty" } : { kind: "device", deviceId, vendorId, version };
}

export {
  negotiateLegacyFeatures,
  nextLegacyDeviceStatus,
  setupLegacyQueue,
  stopLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
