// Mistake: the driver reads and writes feature word 0 only, as a driver
// written for the 32 feature bits of legacy virtio does: VIRTIO_F_VERSION_1
// (bit 32, word 1) is never seen, never accepted, and a modern device
// refuses the driver.
// Source: NetBSD sys/dev/virtio/virtio_mmio.c: the version 2 personality
// arrived in rev. 1.12 (2 January 2024), and rev. 1.13 (6 January 2024) had to
// add virtio 1.0 feature negotiation for hypervisors whose MMIO version 2
// devices are not transitional.
// Must fail: "readDeviceFeatures selects each word before reading it" [4.2.2.2/7]

import {
  addStatus,
  failDevice,
  FeatureNegotiationError,
} from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkDriverFeatures } from "../correct/bigint_masks.ts";

export function readDeviceFeatures(window: RegisterWindow): bigint {
  window.write32(0x014, 0);
  return BigInt(window.read32(0x010) >>> 0);
}

export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  window.write32(0x024, 0);
  window.write32(0x020, Number(features & 0xffff_ffffn));
}

export function negotiateFeatures(window: RegisterWindow, supported: bigint): bigint {
  const offered = readDeviceFeatures(window);
  const accepted = offered & supported;
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  if (!(window.read32(0x070) & 0x08)) {
    failDevice(window);
    throw new FeatureNegotiationError("the device refused the features", offered, accepted);
  }
  return accepted;
}
