// Mistake: notify only when the status is exactly 0x0f
// (ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK), instead of testing the DRIVER_OK bit.
// Source: none
// Must fail: "the change is announced only once DRIVER_OK is set" [3.2.1/D1]

import type { ConfigChange } from "../../../../transport/config_space.ts";

export { checkConfigAccess, readConfig64, readConfigConsistent } from "../correct/linux_style.ts";

export function configChanged(configGeneration: number, status: number): ConfigChange {
  return { configGeneration: (configGeneration + 1) >>> 0, notify: status === 0x0f };
}
