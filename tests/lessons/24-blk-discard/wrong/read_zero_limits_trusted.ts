// Mistake: limits that read 0 are returned as they are, so the driver goes on to send requests the
// device said it cannot take.
// Source: cloud-hypervisor issue #7849: Windows' viostor crashed on a device whose discard limits
// were 0
// Must fail: "limits of 0 are the device's violation, and the command goes unused" [5.2.4/D1]

import { hasFeature } from "../../../../virtio/features.ts";
import type { BlockConfigReader } from "../../../../devices/blk/config.ts";
import type { BlockDiscardConfig } from "../../../../devices/blk/discard.ts";

export {
  buildDiscardRequest,
  executeDiscardRequest,
  layoutDiscardConfig,
  parseDiscardRequest,
  splitDiscard,
} from "../correct/straight_line.ts";

export function readDiscardConfig(device: BlockConfigReader): BlockDiscardConfig {
  const { discard, writeZeroes } = device.readConfigConsistent(() => ({
    discard: hasFeature(device.features, 13)
      ? {
        maxSectors: device.readConfig(36, 4),
        maxSegments: device.readConfig(40, 4),
        alignment: device.readConfig(44, 4),
      }
      : null,
    writeZeroes: hasFeature(device.features, 14)
      ? {
        maxSectors: device.readConfig(48, 4),
        maxSegments: device.readConfig(52, 4),
        mayUnmap: device.readConfig(56, 1) !== 0,
      }
      : null,
  }));
  return { discard, writeZeroes };
}
