// Correct: data instead of branches. The magic is computed from the four
// ASCII bytes with a little-endian DataView load, the access rules look the
// register up in a Map built from MMIO_REGISTERS (location first, then
// width, then direction), and the probe walks a list of steps.

import {
  type AccessKind,
  type DeviceIdentity,
  MMIO_REGISTERS,
  type MmioRegister,
  type RegisterAccessCheck,
} from "../../../../transport/mmio_registers.ts";
import type { ProbeResult } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const MAGIC = new DataView(new TextEncoder().encode("virt").buffer).getUint32(0, true);

const IDENTIFICATION: ReadonlyMap<number, (id: DeviceIdentity) => number> = new Map([
  [0x000, () => MAGIC],
  [0x004, (id: DeviceIdentity) => id.version ?? 2],
  [0x008, (id: DeviceIdentity) => id.deviceId >>> 0],
  [0x00c, (id: DeviceIdentity) => id.vendorId >>> 0],
]);

export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  return IDENTIFICATION.get(offset)?.(identity);
}

const LAYOUTS = new Map<1 | 2, Map<number, MmioRegister>>(
  ([1, 2] as const).map((v) => [
    v,
    new Map(MMIO_REGISTERS.filter((r) => r.versions.includes(v)).map((r) => [r.offset, r])),
  ]),
);

function refuse(
  requirement: "4.2.2.2/1" | "4.2.2.2/2",
  reason: string,
  register: MmioRegister | undefined,
): RegisterAccessCheck {
  return { ok: false, requirement, reason, register: register ?? null };
}

export function checkRegisterAccess(
  offset: number,
  width: number,
  kind: AccessKind,
  version: 1 | 2 = 2,
): RegisterAccessCheck {
  if (offset >= 0x100) return { ok: true, register: null };
  const layout = LAYOUTS.get(version)!;
  const exact = layout.get(offset);
  const around = layout.get(offset - (offset % 4));
  if (!exact) return refuse("4.2.2.2/1", `Nothing at offset ${offset} to ${kind}`, around);
  if (width !== 4) return refuse("4.2.2.2/2", `A ${width}-byte ${kind} of ${exact.name}`, exact);
  const wants = kind === "read" ? "R" : "W";
  if (!exact.direction.includes(wants)) {
    return refuse("4.2.2.2/1", `${exact.name} cannot be the target of a ${kind}`, exact);
  }
  return { ok: true, register: exact };
}

export function probeWindow(window: RegisterWindow): ProbeResult {
  const [magic, version] = [window.read32(0x000) >>> 0, 0];
  if (magic !== MAGIC) {
    return { kind: "rejected", requirement: "4.2.2.2/4", reason: "not virtio", magic, version };
  }
  const read = window.read32(0x004) >>> 0;
  if (read !== 2) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/5",
      reason: "not version 2",
      magic,
      version: read,
    };
  }
  const deviceId = window.read32(0x008) >>> 0;
  return deviceId === 0
    ? { kind: "empty" }
    : { kind: "device", deviceId, vendorId: window.read32(0x00c) >>> 0, version: read };
}
