// Mistake: all four identification registers read up front, then decided
// on, so an empty slot has its VendorID read after DeviceID said 0.
// Source: none in a shipped driver; the lab's own empty slot logs exactly this read.
// Must fail: "probeWindow stops at DeviceID 0 and touches nothing else" [4.2.3.1.1/2]

import type { ProbeResult } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkRegisterAccess, readIdentification } from "../correct/switch_and_find.ts";

export function probeWindow(window: RegisterWindow): ProbeResult {
  const [magic, version, deviceId, vendorId] = [0x000, 0x004, 0x008, 0x00c].map((o) =>
    window.read32(o) >>> 0
  );
  if (magic !== 0x74726976) {
    return { kind: "rejected", requirement: "4.2.2.2/4", reason: "Bad magic", magic, version };
  }
  if (version !== 2) {
    return { kind: "rejected", requirement: "4.2.2.2/5", reason: "Bad version", magic, version };
  }
  if (deviceId === 0) return { kind: "empty" };
  return { kind: "device", deviceId, vendorId, version };
}
