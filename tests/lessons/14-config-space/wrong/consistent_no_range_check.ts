// Mistake: maxTries is not checked: with 0 the loop never runs, and the
// driver throws a ConfigGenerationError about a read it never tried.
// Source: none
// Must fail: "maxTries below 1 is refused before anything is read" [2.5.1/1]

import { ConfigGenerationError } from "../../../../transport/driver_config.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfig64 } from "../correct/linux_style.ts";

export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  let before = 0, after = 0;
  for (let i = 0; i < maxTries; i++) {
    before = window.read32(0x0fc);
    const value = read();
    after = window.read32(0x0fc);
    if (before === after) return value;
  }
  throw new ConfigGenerationError(maxTries, before, after);
}
