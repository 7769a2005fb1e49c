// Mistake: DeviceID 0 treated as an error ("no such device") instead of an
// empty slot, so the virtio bus reports every unused window of a board.
// Source: none; QEMU's virt machine declares 32 windows, most of them empty.
// Must fail: "an empty slot is skipped silently, not reported" [4.2.2.2/6]

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
  const deviceId = window.read32(0x008) >>> 0;
  if (deviceId === 0) {
    return { kind: "rejected", requirement: "4.2.2.2/6", reason: "No device", magic, version };
  }
  return { kind: "device", deviceId, vendorId: window.read32(0x00c) >>> 0, version };
}
