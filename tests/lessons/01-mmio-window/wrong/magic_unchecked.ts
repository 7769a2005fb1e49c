// Mistake: MagicValue read but never compared: only Version is checked, so
// whatever is mapped at the address is taken for a virtio device.
// Source: none; "Version 2 is proof enough".
// Must fail: "probeWindow ignores a bad MagicValue, such as 0x76697274 (\"virt\" byte-swapped)" [4.2.2.2/4]

import type { ProbeResult } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkRegisterAccess, readIdentification } from "../correct/switch_and_find.ts";

export function probeWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(0x000) >>> 0;
  const version = window.read32(0x004) >>> 0;
  if (version !== 2) {
    return { kind: "rejected", requirement: "4.2.2.2/5", reason: "Bad version", magic, version };
  }
  const deviceId = window.read32(0x008) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  return { kind: "device", deviceId, vendorId: window.read32(0x00c) >>> 0, version };
}
