// Mistake: IDs normalised with `| 0`, which makes any value with bit 31 set
// negative (0xffff_fff0 reads as -16).
// Source: none; the classic JavaScript 32-bit trap.
// Must fail: "DeviceID and VendorID are the device's, as unsigned 32-bit values" [4.2.2/D1]

import type { DeviceIdentity } from "../../../../transport/mmio_registers.ts";

export { checkRegisterAccess, probeWindow } from "../correct/switch_and_find.ts";

export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  switch (offset) {
    case 0x000:
      return 0x74726976;
    case 0x004:
      return identity.version ?? 2;
    case 0x008:
      return identity.deviceId | 0;
    case 0x00c:
      return identity.vendorId | 0;
    default:
      return undefined;
  }
}
