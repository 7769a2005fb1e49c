// Mistake: after maxTries changing runs the driver returns the last, torn,
// snapshot instead of saying that it could not read the configuration.
// Source: none
// Must fail: "a generation that never settles: give up after maxTries runs" [2.5.1/1]

import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfig64 } from "../correct/linux_style.ts";

export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  if (!(maxTries >= 1)) throw new RangeError(`maxTries ${maxTries}`);
  let value!: R;
  for (let i = 0; i < maxTries; i++) {
    const before = window.read32(0x0fc);
    value = read();
    if (window.read32(0x0fc) === before) break;
  }
  return value;
}
