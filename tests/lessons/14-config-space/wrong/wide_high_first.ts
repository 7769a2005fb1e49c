// Mistake: the high word is read first, then the low word.
// Source: none
// Must fail: "a 64-bit field is two aligned 32-bit reads, low word first" [4.2.2.2/3]

import type { ConsistentConfigReader } from "../../../../transport/driver_config.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfigConsistent } from "../correct/linux_style.ts";

export function readConfig64(
  window: RegisterWindow,
  offset: number,
  consistent: ConsistentConfigReader,
): bigint {
  return consistent(window, () => {
    const high = window.read32(0x100 + offset + 4) >>> 0;
    const low = window.read32(0x100 + offset) >>> 0;
    return (BigInt(high) << 32n) | BigInt(low);
  });
}
