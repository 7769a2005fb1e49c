// Mistake: the generation flips between two values (XOR 1): two changes during
// one read bring it back, and the driver takes the torn snapshot for a consistent one.
// Source: none
// Must fail: "ConfigGeneration takes a new value on every change" [4.2.2.1/6]

import type { ConfigChange } from "../../../../transport/config_space.ts";

export { checkConfigAccess, readConfig64, readConfigConsistent } from "../correct/linux_style.ts";

export function configChanged(configGeneration: number, status: number): ConfigChange {
  return { configGeneration: configGeneration ^ 1, notify: (status & 0x04) !== 0 };
}
