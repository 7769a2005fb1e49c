// Mistake: refusals carry an empty reason, so the conformance log says a
// rule was broken but not what happened.
// Source: none; the type requires a reason, and "" satisfies it.
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
  const register = findRegister(offset & ~3, version) ?? null;
  if (width !== 4 || offset % 4 !== 0) {
    return { ok: false, requirement: "4.2.2.2/2", reason: "", register };
  }
  if (!register) return { ok: false, requirement: "4.2.2.2/1", reason: "", register };
  if (kind === "read" ? register.direction === "W" : register.direction === "R") {
    return { ok: false, requirement: "4.2.2.2/1", reason: "", register };
  }
  return { ok: true, register };
}
