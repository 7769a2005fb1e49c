// Mistake: every limit may be 0: a device then offers a command no request can carry.
// Source: cloud-hypervisor issue #7849 (fixed by PR #7852): DISCARD and WRITE_ZEROES offered with
// their limits 0
// Must fail: "limits no request fits are refused" [5.2.4/D1]

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
  const fit = (v: number) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`${v}`);
    return v;
  };
  if (config.discard) {
    view.setUint32(36, fit(config.discard.maxSectors), true);
    view.setUint32(40, fit(config.discard.maxSegments), true);
    view.setUint32(44, fit(config.discard.alignment), true);
  }
  if (config.writeZeroes) {
    view.setUint32(48, fit(config.writeZeroes.maxSectors), true);
    view.setUint32(52, fit(config.writeZeroes.maxSegments), true);
    bytes[56] = config.writeZeroes.mayUnmap ? 1 : 0;
  }
}
