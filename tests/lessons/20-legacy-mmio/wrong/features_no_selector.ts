// Mistake: DeviceFeatures read and DriverFeatures written without selecting
// word 0 first: the words last selected are the ones read and written.
// Source: none; 4.2.2.2/7 and 4.2.2.2/8 hold on a legacy window too.
// Must fail: "32 feature bits, no FEATURES_OK" [4.2.4/D4]

import type { RegisterWindow } from "../../../../transport/types.ts";

export function negotiateLegacyFeatures(window: RegisterWindow, supported: bigint): bigint {
  const accepted = BigInt(window.read32(0x010) >>> 0) & supported & 0xffffffffn;
  window.write32(0x020, Number(accepted));
  return accepted;
}

export {
  nextLegacyDeviceStatus,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
