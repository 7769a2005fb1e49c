// Mistake: the identification registers read in the order of the device
// summary (vendor, then device), not the order §4.2.3.1.1 requires.
// Source: none; PCI enumeration reads the vendor first.
// Must fail: "probeWindow identifies a device: MagicValue, Version, DeviceID, then VendorID" [4.2.3.1.1/1]

import type { ProbeResult } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkRegisterAccess, readIdentification } from "../correct/switch_and_find.ts";

export function probeWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(0x000) >>> 0;
  if (magic !== 0x74726976) {
    return { kind: "rejected", requirement: "4.2.2.2/4", reason: "Bad magic", magic, version: 0 };
  }
  const version = window.read32(0x004) >>> 0;
  if (version !== 2) {
    return { kind: "rejected", requirement: "4.2.2.2/5", reason: "Bad version", magic, version };
  }
  const vendorId = window.read32(0x00c) >>> 0;
  const deviceId = window.read32(0x008) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  return { kind: "device", deviceId, vendorId, version };
}
