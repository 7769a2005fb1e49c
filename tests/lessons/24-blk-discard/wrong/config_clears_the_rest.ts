// Mistake: the configuration is cleared before the limits go in, wiping the fields
// blockConfigSpace already laid out.
// Source: none
// Must fail: "nothing else in the configuration is touched" [5.2.5.2/3]

import type { BlockDiscardConfig } from "../../../../devices/blk/discard.ts";

export {
  buildDiscardRequest,
  executeDiscardRequest,
  parseDiscardRequest,
  readDiscardConfig,
  splitDiscard,
} from "../correct/straight_line.ts";

export function layoutDiscardConfig(config: BlockDiscardConfig, bytes: Uint8Array): void {
  if (bytes.length !== 72) throw new RangeError("not 72 bytes");
  bytes.fill(0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 72);
  const fit = (v: number, min: number) => {
    if (!Number.isInteger(v) || v < min || v > 0xffff_ffff) throw new RangeError(`${v}`);
    return v;
  };
  if (config.discard) {
    view.setUint32(36, fit(config.discard.maxSectors, 1), true);
    view.setUint32(40, fit(config.discard.maxSegments, 1), true);
    view.setUint32(44, fit(config.discard.alignment, 0), true);
  }
  if (config.writeZeroes) {
    view.setUint32(48, fit(config.writeZeroes.maxSectors, 1), true);
    view.setUint32(52, fit(config.writeZeroes.maxSegments, 1), true);
    bytes[56] = config.writeZeroes.mayUnmap ? 1 : 0;
  }
}
