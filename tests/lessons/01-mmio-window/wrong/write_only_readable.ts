// Mistake: only writes to read-only registers are refused; reads of
// write-only ones (QueueNotify, InterruptACK, the selectors) pass.
// Source: none; "reading is harmless" again, but a W register has nothing to read.
// Must fail: "only registers of the table, each in its own direction" [4.2.2.2/1]

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
    return {
      ok: false,
      requirement: "4.2.2.2/2",
      reason: "Not an aligned 32-bit access",
      register,
    };
  }
  if (!register) return { ok: false, requirement: "4.2.2.2/1", reason: "No register", register };
  if (kind === "write" && register.direction === "R") {
    return {
      ok: false,
      requirement: "4.2.2.2/1",
      reason: `${register.name} is read-only`,
      register,
    };
  }
  return { ok: true, register };
}
