// Mistake: the halves are read first and the generation loop only wraps the
// arithmetic, so a change between the two reads is never noticed.
// Source: none
// Must fail: "both halves come from one snapshot, inside the consistent step" [2.5.1/1]

import type { ConsistentConfigReader } from "../../../../transport/driver_config.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfigConsistent } from "../correct/linux_style.ts";

export function readConfig64(
  window: RegisterWindow,
  offset: number,
  consistent: ConsistentConfigReader,
): bigint {
  const low = window.read32(0x100 + offset) >>> 0;
  const high = window.read32(0x100 + offset + 4) >>> 0;
  return consistent(window, () => (BigInt(high) << 32n) | BigInt(low));
}
