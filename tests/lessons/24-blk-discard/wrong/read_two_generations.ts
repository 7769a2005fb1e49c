// Mistake: each command's limits are read in a generation loop of their own: the two sets may come
// from different configurations.
// Source: none
// Must fail: "every limit comes from one configuration generation" [2.5.1/1]

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
  const discard = device.readConfigConsistent(() =>
    hasFeature(device.features, 13)
      ? {
        maxSectors: device.readConfig(36, 4),
        maxSegments: device.readConfig(40, 4),
        alignment: device.readConfig(44, 4),
      }
      : null
  );
  const writeZeroes = device.readConfigConsistent(() =>
    hasFeature(device.features, 14)
      ? {
        maxSectors: device.readConfig(48, 4),
        maxSegments: device.readConfig(52, 4),
        mayUnmap: device.readConfig(56, 1) !== 0,
      }
      : null
  );
  const usable = <T extends { maxSectors: number; maxSegments: number }>(l: T | null) => {
    if (!l || (l.maxSectors > 0 && l.maxSegments > 0)) return l;
    device.reporter.report(
      "5.2.4/D1",
      "limits read 0",
      { s: l.maxSectors, g: l.maxSegments },
      "unused",
    );
    return null;
  };
  return { discard: usable(discard), writeZeroes: usable(writeZeroes) };
}
