// Mistake: the attempts are counted from 1 with <, so read runs maxTries - 1
// times before the driver gives up.
// Source: none
// Must fail: "a generation that never settles: give up after maxTries runs" [2.5.1/1]

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
  for (let attempt = 1; attempt < maxTries; attempt++) {
    before = window.read32(0x0fc);
    const value = read();
    after = window.read32(0x0fc);
    if (before === after) return value;
  }
  throw new ConfigGenerationError(maxTries, before, after);
}
