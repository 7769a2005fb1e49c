// Mistake: every offset that is not an identification register reads 0
// instead of undefined, so the register file never answers Status,
// QueueNumMax, ConfigGeneration... itself.
// Source: none; "a register nobody set reads 0" is a natural default.
// Must fail: "readIdentification answers only its four registers" [4.2.2/D1]

import type { DeviceIdentity } from "../../../../transport/mmio_registers.ts";

export { checkRegisterAccess, probeWindow } from "../correct/switch_and_find.ts";

export function readIdentification(offset: number, identity: DeviceIdentity): number {
  const values: Record<number, number> = {
    0x000: 0x74726976,
    0x004: identity.version ?? 2,
    0x008: identity.deviceId >>> 0,
    0x00c: identity.vendorId >>> 0,
  };
  return values[offset] ?? 0;
}
