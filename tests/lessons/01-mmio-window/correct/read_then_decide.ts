// Correct: the variations the contract allows. The probe reads MagicValue
// and Version up front and then decides (so a bad magic is rejected with
// the Version it read); the access check looks the register up before it
// looks at the width (a narrow access into a hole is refused as 4.2.2.2/1,
// which is fair when both rules are broken) and reports no register on a
// refusal; identification goes through a lookup object.

import {
  type AccessKind,
  type DeviceIdentity,
  MMIO_REGISTERS,
  type RegisterAccessCheck,
} from "../../../../transport/mmio_registers.ts";
import type { ProbeResult } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const MAGIC = 0x74726976;

export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  const table: Record<number, number> = {
    0: MAGIC,
    4: identity.version === 1 ? 1 : 2,
    8: Number(BigInt.asUintN(32, BigInt(identity.deviceId))),
    12: Number(BigInt.asUintN(32, BigInt(identity.vendorId))),
  };
  return Object.hasOwn(table, offset) ? table[offset] : undefined;
}

export function checkRegisterAccess(
  offset: number,
  width: number,
  kind: AccessKind,
  version: 1 | 2 = 2,
): RegisterAccessCheck {
  if (offset >= 0x100) return { ok: true, register: null };
  const register = MMIO_REGISTERS.find((r) => r.offset === offset && r.versions.includes(version));
  if (!register) {
    return {
      ok: false,
      requirement: "4.2.2.2/1",
      reason: `Nothing is at ${offset}`,
      register: null,
    };
  }
  if (width !== 4) {
    return { ok: false, requirement: "4.2.2.2/2", reason: `${width}-byte access`, register: null };
  }
  const wrongWay = (kind === "read" && register.direction === "W") ||
    (kind === "write" && register.direction === "R");
  return wrongWay
    ? { ok: false, requirement: "4.2.2.2/1", reason: `${register.name}: wrong way`, register: null }
    : { ok: true, register };
}

export function probeWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(0x000) >>> 0;
  const version = window.read32(0x004) >>> 0;
  if (magic !== MAGIC) {
    return { kind: "rejected", requirement: "4.2.2.2/4", reason: "bad magic", magic, version };
  }
  if (version !== 2) {
    return { kind: "rejected", requirement: "4.2.2.2/5", reason: "not version 2", magic, version };
  }
  const deviceId = window.read32(0x008) >>> 0;
  if (!deviceId) return { kind: "empty" };
  const vendorId = window.read32(0x00c) >>> 0;
  return { kind: "device", deviceId, vendorId, version };
}
