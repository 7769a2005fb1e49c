// Mistake: configuration space taken to start after 0x100 (`offset > 0x100`),
// so an access to its first byte is refused as a hole in the register table.
// Source: none; an off-by-one at a boundary.
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
  if (offset > 0x100) return { ok: true, register: null };
  const register = findRegister(offset & ~3, version) ?? null;
  if (width !== 4 || offset % 4 !== 0) {
    return {
      ok: false,
      requirement: "4.2.2.2/2",
      reason: "Not an aligned 32-bit access",
      register,
    };
  }
  if (!register) return { ok: false, requirement: "4.2.2.2/1", reason: "No register", register };
  if (kind === "read" ? register.direction === "W" : register.direction === "R") {
    return { ok: false, requirement: "4.2.2.2/1", reason: "Wrong direction", register };
  }
  return { ok: true, register };
}
