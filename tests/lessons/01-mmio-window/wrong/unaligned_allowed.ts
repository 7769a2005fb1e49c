// Mistake: the width is checked but not the alignment, so a 32-bit load at
// 0x072 (straddling Status and the next hole) is let through.
// Source: none; alignment is the half of 4.2.2.2/2 that is easy to forget.
// Must fail: "control registers take only aligned 32-bit accesses" [4.2.2.2/2]

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
  if (offset >= 0x100) return { ok: true, register: null };
  const register = findRegister(offset - (offset % 4), version) ?? null;
  if (width !== 4) {
    return { ok: false, requirement: "4.2.2.2/2", reason: "Narrow access", register };
  }
  if (!register) return { ok: false, requirement: "4.2.2.2/1", reason: "No register", register };
  if (kind === "read" ? register.direction === "W" : register.direction === "R") {
    return { ok: false, requirement: "4.2.2.2/1", reason: "Wrong direction", register };
  }
  return { ok: true, register };
}
