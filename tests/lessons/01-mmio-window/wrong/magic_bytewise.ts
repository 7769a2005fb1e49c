// Mistake: the magic compared as the string "virt", one 8-bit read per
// character: 8-bit accesses to a control register break 4.2.2.2/2.
// Source: none; reading the ASCII bytes one by one is how the magic is explained.
// Must fail: "probing only reads, 32 bits at a time" [4.2.2.2/2]

import type { ProbeResult } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkRegisterAccess, readIdentification } from "../correct/switch_and_find.ts";

export function probeWindow(window: RegisterWindow): ProbeResult {
  const text = [0, 1, 2, 3].map((i) => String.fromCharCode(window.read8(i))).join("");
  const magic = window.read32(0x000) >>> 0;
  if (text !== "virt") {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/4",
      reason: `Magic "${text}"`,
      magic,
      version: 0,
    };
  }
  const version = window.read32(0x004) >>> 0;
  if (version !== 2) {
    return { kind: "rejected", requirement: "4.2.2.2/5", reason: "Bad version", magic, version };
  }
  const deviceId = window.read32(0x008) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  return { kind: "device", deviceId, vendorId: window.read32(0x00c) >>> 0, version };
}
