// Mistake: the version argument is ignored and the modern table used for
// every device, so QueuePFN and GuestPageSize are refused on a legacy one.
// Source: none; the parameter has a default, so forgetting to pass it on compiles.
// Must fail: "the legacy layout (version 1) has its own registers" [4.2.2.2/1]

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
  _version: 1 | 2 = 2,
): RegisterAccessCheck {
  if (offset >= 0x100) return { ok: true, register: null };
  const register = findRegister(offset & ~3) ?? null;
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
