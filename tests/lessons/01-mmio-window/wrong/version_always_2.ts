// Mistake: Version hard-wired to 2, ignoring a device that says it is legacy.
// Source: none, a plausible slip ("this lab is modern only").
// Must fail: "Version reads 2 (1 only for a legacy device)" [4.2.2.1/2]

import type { DeviceIdentity } from "../../../../transport/mmio_registers.ts";

export { checkRegisterAccess, probeWindow } from "../correct/switch_and_find.ts";

export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  switch (offset) {
    case 0x000:
      return 0x74726976;
    case 0x004:
      return 2;
    case 0x008:
      return identity.deviceId;
    case 0x00c:
      return identity.vendorId;
  }
  return undefined;
}
