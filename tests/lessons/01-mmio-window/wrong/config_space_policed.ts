// Mistake: the 32-bit rule applied to configuration space too, so the 8-bit
// and 16-bit fields of a device's configuration (virtio-blk's
// topology, the console's size) cannot be read.
// Source: none; 4.2.2.2/2 says control registers, 4.2.2.2/3 gives config space its own widths.
// Must fail: "configuration space (0x100 and up) is left to the device" [4.2.2.2/1]

import {
  type AccessKind,
  findRegister,
  type RegisterAccessCheck,
} from "../../../../transport/mmio_registers.ts";

export { probeWindow, readIdentification } from "../correct/switch_and_find.ts";

export function checkRegisterAccess(
  offset: number,
  width: number,
  kind: AccessKind,
  version: 1 | 2 = 2,
): RegisterAccessCheck {
  const register = offset < 0x100 ? findRegister(offset & ~3, version) ?? null : null;
  if (width !== 4 || offset % 4 !== 0) {
    return {
      ok: false,
      requirement: "4.2.2.2/2",
      reason: "Not an aligned 32-bit access",
      register,
    };
  }
  if (offset >= 0x100) return { ok: true, register: null };
  if (!register) return { ok: false, requirement: "4.2.2.2/1", reason: "No register", register };
  if (kind === "read" ? register.direction === "W" : register.direction === "R") {
    return { ok: false, requirement: "4.2.2.2/1", reason: "Wrong direction", register };
  }
  return { ok: true, register };
}
