// Mistake: each half is read under its own generation loop: each half is
// consistent with itself, and the pair can still be torn.
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
  const low = consistent(window, () => window.read32(0x100 + offset) >>> 0);
  const high = consistent(window, () => window.read32(0x100 + offset + 4) >>> 0);
  return (BigInt(high) << 32n) | BigInt(low);
}
