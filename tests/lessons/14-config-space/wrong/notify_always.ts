// Mistake: a configuration change is always announced, before DRIVER_OK too,
// to a driver that has no handler for it yet.
// Source: none
// Must fail: "the change is announced only once DRIVER_OK is set" [3.2.1/D1]

import type { ConfigChange } from "../../../../transport/config_space.ts";

export { checkConfigAccess, readConfig64, readConfigConsistent } from "../correct/linux_style.ts";

export function configChanged(configGeneration: number, _status: number): ConfigChange {
  return { configGeneration: (configGeneration + 1) >>> 0, notify: true };
}
