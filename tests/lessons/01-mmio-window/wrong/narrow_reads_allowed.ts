// Mistake: narrow accesses refused only for writes ("a narrow read cannot
// hurt"), so an 8-bit peek at MagicValue passes.
// Source: none; the rule is about hardware that cannot do narrow accesses at all.
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
  if (kind === "write" && (width !== 4 || offset % 4 !== 0)) {
    return { ok: false, requirement: "4.2.2.2/2", reason: "Narrow write", register };
  }
  if (!register) return { ok: false, requirement: "4.2.2.2/1", reason: "No register", register };
  if (kind === "read" ? register.direction === "W" : register.direction === "R") {
    return { ok: false, requirement: "4.2.2.2/1", reason: "Wrong direction", register };
  }
  return { ok: true, register };
}
