// Mistake: the modern negotiation used on a legacy device: both feature
// words, then FEATURES_OK set, as §3.1.1 says for a modern one.
// Source: NetBSD sys/dev/virtio/virtio_mmio.c rev. 1.13 (6 January 2024), which gave each personality its own negotiation.
// Must fail: "32 feature bits, no FEATURES_OK" [4.2.4/D4]

import type { RegisterWindow } from "../../../../transport/types.ts";

export function negotiateLegacyFeatures(window: RegisterWindow, supported: bigint): bigint {
  window.write32(0x014, 0);
  const low = window.read32(0x010) >>> 0;
  window.write32(0x014, 1);
  const high = window.read32(0x010) >>> 0;
  const accepted = ((BigInt(high) << 32n) | BigInt(low)) & supported;
  window.write32(0x024, 0);
  window.write32(0x020, Number(accepted & 0xffffffffn));
  window.write32(0x024, 1);
  window.write32(0x020, Number(accepted >> 32n));
  window.write32(0x070, window.read32(0x070) | 0x08);
  return accepted;
}

export {
  nextLegacyDeviceStatus,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
