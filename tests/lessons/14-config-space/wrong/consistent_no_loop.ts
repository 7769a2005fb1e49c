// Mistake: ConfigGeneration is read before and after, and a difference is
// ignored: the fields are read once and returned whatever the generation did.
// Source: none
// Must fail: "what readConfigConsistent returns comes from a run the generation held still across" [2.5.1/1]

import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfig64 } from "../correct/linux_style.ts";

export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  if (!(maxTries >= 1)) throw new RangeError(`maxTries ${maxTries}`);
  window.read32(0x0fc);
  const value = read();
  window.read32(0x0fc);
  return value;
}
