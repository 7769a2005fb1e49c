// Mistake: ConfigGeneration moves only when the change is announced, once
// DRIVER_OK is set: a driver reading configuration during negotiation cannot see a change.
// Source: QEMU hw/virtio/virtio.c virtio_notify_config returns before anything while DRIVER_OK is clear; its header comment: with DRIVER_OK it "will trigger a guest interrupt and update the config version"
// Must fail: "ConfigGeneration takes a new value on every change" [4.2.2.1/6]

import type { ConfigChange } from "../../../../transport/config_space.ts";

export { checkConfigAccess, readConfig64, readConfigConsistent } from "../correct/linux_style.ts";

export function configChanged(configGeneration: number, status: number): ConfigChange {
  const live = (status & 0x04) !== 0;
  return { configGeneration: live ? (configGeneration + 1) >>> 0 : configGeneration, notify: live };
}
