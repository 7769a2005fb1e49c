// Mistake: MagicValue assembled from "virt" with the first character in the
// high byte (a big-endian load), giving 0x76697274.
// Source: NetBSD sys/dev/virtio/virtio_mmio.c rev. 1.12 (2 January 2024): MMIO
// registers are little-endian even where the rest of the guest is not.
// Must fail: "MagicValue reads \"virt\" as a little-endian word" [4.2.2.1/1]

import type { DeviceIdentity } from "../../../../transport/mmio_registers.ts";

export { checkRegisterAccess, probeWindow } from "../correct/switch_and_find.ts";

const MAGIC = [..."virt"].reduce((word, c) => (word << 8) | c.charCodeAt(0), 0) >>> 0;

export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  if (offset === 0x000) return MAGIC;
  if (offset === 0x004) return identity.version ?? 2;
  if (offset === 0x008) return identity.deviceId >>> 0;
  if (offset === 0x00c) return identity.vendorId >>> 0;
  return undefined;
}
