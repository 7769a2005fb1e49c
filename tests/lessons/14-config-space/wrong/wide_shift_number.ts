// Mistake: the halves are combined with 32-bit number operators: high << 32 is
// high << 0 in JavaScript, so the result is high | low.
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
    const low = window.read32(0x100 + offset);
    const high = window.read32(0x100 + offset + 4);
    return BigInt(((high << 32) | low) >>> 0);
  });
}
