// Mistake: any Version from 1 up accepted ("newer or older, it is still
// virtio"), so a legacy device is driven with the modern register layout.
// Source: none; QEMU's virtio-mmio devices are legacy (Version 1) unless
// started with -global virtio-mmio.force-legacy=false.
// Must fail: "probeWindow ignores a Version other than 2, the legacy 1 included" [4.2.2.2/5]

import type { ProbeResult } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkRegisterAccess, readIdentification } from "../correct/switch_and_find.ts";

export function probeWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(0x000) >>> 0;
  if (magic !== 0x74726976) {
    return { kind: "rejected", requirement: "4.2.2.2/4", reason: "Bad magic", magic, version: 0 };
  }
  const version = window.read32(0x004) >>> 0;
  if (version < 1 || version > 2) {
    return { kind: "rejected", requirement: "4.2.2.2/5", reason: "Bad version", magic, version };
  }
  const deviceId = window.read32(0x008) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  return { kind: "device", deviceId, vendorId: window.read32(0x00c) >>> 0, version };
}
