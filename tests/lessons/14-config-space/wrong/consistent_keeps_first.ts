// Mistake: the loop retries until the generation holds, but returns what the
// first run read, the one the change tore.
// Source: none
// Must fail: "what readConfigConsistent returns comes from a run the generation held still across" [2.5.1/1]

import { ConfigGenerationError } from "../../../../transport/driver_config.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfig64 } from "../correct/linux_style.ts";

export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  if (!(maxTries >= 1)) throw new RangeError(`maxTries ${maxTries}`);
  let first: { value: R } | null = null;
  let before = 0, after = 0;
  for (let i = 0; i < maxTries; i++) {
    before = window.read32(0x0fc);
    const value = read();
    first ??= { value };
    after = window.read32(0x0fc);
    if (before === after) return first.value;
  }
  throw new ConfigGenerationError(maxTries, before, after);
}
