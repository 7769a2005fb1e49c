// Mistake: the generation loop has no bound: do { ... } while (before !== after),
// as the spec sketches it, hangs the driver on a device whose generation never settles.
// Source: the do/while of §2.5.1 itself, copied without a bound
// Must fail: "a generation that never settles: give up after maxTries runs" [2.5.1/1]

import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfig64 } from "../correct/linux_style.ts";

export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  if (!(maxTries >= 1)) throw new RangeError(`maxTries ${maxTries}`);
  let before, after, value;
  do {
    before = window.read32(0x0fc);
    value = read();
    after = window.read32(0x0fc);
  } while (before !== after);
  return value;
}
