// Mistake: the halves are combined as a number, high * 2^32 + low, then made a
// bigint: above 2^53 sectors the low bits are rounded away.
// Source: none
// Must fail: "the value is high << 32 | low, unsigned, all 64 bits" [4.2.2.2/3]

import type { ConsistentConfigReader } from "../../../../transport/driver_config.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfigConsistent } from "../correct/linux_style.ts";

export function readConfig64(
  window: RegisterWindow,
  offset: number,
  consistent: ConsistentConfigReader,
): bigint {
  return consistent(window, () => {
    const low = window.read32(0x100 + offset) >>> 0;
    const high = window.read32(0x100 + offset + 4) >>> 0;
    return BigInt(high * 2 ** 32 + low);
  });
}
