// Mistake: ConfigGeneration read with a 16-bit access, as if it were a small
// counter: control registers take only 32-bit accesses, and its high half is lost.
// Source: none
// Must fail: "readConfigConsistent reads only ConfigGeneration, 32 bits wide" [4.2.2.2/2]

import { ConfigGenerationError } from "../../../../transport/driver_config.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfig64 } from "../correct/linux_style.ts";

export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  if (!(maxTries >= 1)) throw new RangeError(`maxTries ${maxTries}`);
  let before = 0, after = 0;
  for (let i = 0; i < maxTries; i++) {
    before = window.read16(0x0fc);
    const value = read();
    after = window.read16(0x0fc);
    if (before === after) return value;
  }
  throw new ConfigGenerationError(maxTries, before, after);
}
