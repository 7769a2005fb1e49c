// Mistake: all six fields are read whatever was negotiated (and only then sorted out): a field
// without its feature does not exist.
// Source: none
// Must fail: "a command's limits are read only when its feature was negotiated" [2.5.1/1]

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
  const { discard, writeZeroes } = device.readConfigConsistent(() => {
    const d = {
      maxSectors: device.readConfig(36, 4),
      maxSegments: device.readConfig(40, 4),
      alignment: device.readConfig(44, 4),
    };
    const z = {
      maxSectors: device.readConfig(48, 4),
      maxSegments: device.readConfig(52, 4),
      mayUnmap: device.readConfig(56, 1) !== 0,
    };
    return {
      discard: hasFeature(device.features, 13) ? d : null,
      writeZeroes: hasFeature(device.features, 14) ? z : null,
    };
  });
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
