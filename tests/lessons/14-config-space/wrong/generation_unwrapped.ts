// Mistake: ConfigGeneration counts up with a plain + 1: after 0xffffffff it
// becomes 4294967296, which no 32-bit register can hold (the register file would read it as 0,
// a value it had before).
// Source: none
// Must fail: "ConfigGeneration takes a new value on every change" [4.2.2.1/6]

import type { ConfigChange } from "../../../../transport/config_space.ts";

export { checkConfigAccess, readConfig64, readConfigConsistent } from "../correct/linux_style.ts";

export function configChanged(configGeneration: number, status: number): ConfigChange {
  return { configGeneration: configGeneration + 1, notify: (status & 0x04) !== 0 };
}
