// Mistake: discard_sector_alignment and max_discard_seg change places: the struct read from
// memory, not from the spec.
// Source: none
// Must fail: "the discard limits sit at 36, 40 and 44" [5.2.4/D1]

import type { BlockDiscardConfig } from "../../../../devices/blk/discard.ts";

export {
  buildDiscardRequest,
  executeDiscardRequest,
  parseDiscardRequest,
  readDiscardConfig,
  splitDiscard,
} from "../correct/straight_line.ts";

export function layoutDiscardConfig(config: BlockDiscardConfig, bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 72);
  const fit = (v: number, min: number) => {
    if (!Number.isInteger(v) || v < min || v > 0xffff_ffff) throw new RangeError(`${v}`);
    return v;
  };
  if (config.discard) {
    view.setUint32(36, fit(config.discard.maxSectors, 1), true);
    view.setUint32(40, fit(config.discard.alignment, 0), true);
    view.setUint32(44, fit(config.discard.maxSegments, 1), true);
  }
  if (config.writeZeroes) {
    view.setUint32(48, fit(config.writeZeroes.maxSectors, 1), true);
    view.setUint32(52, fit(config.writeZeroes.maxSegments, 1), true);
    bytes[56] = config.writeZeroes.mayUnmap ? 1 : 0;
  }
}
