// Mistake: the field is read byte by byte, eight 8-bit reads, as one would copy
// any structure out of memory.
// Source: Linux drivers/virtio/virtio_mmio.c vm_get still reads a legacy (version 1) device this way; for version 2 it reads each field at its width
// Must fail: "a 64-bit field is two aligned 32-bit reads, low word first" [4.2.2.2/3]

import type { ConsistentConfigReader } from "../../../../transport/driver_config.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export { checkConfigAccess, configChanged, readConfigConsistent } from "../correct/linux_style.ts";

export function readConfig64(
  window: RegisterWindow,
  offset: number,
  consistent: ConsistentConfigReader,
): bigint {
  return consistent(window, () => {
    let value = 0n;
    for (let i = 7; i >= 0; i--) value = (value << 8n) | BigInt(window.read8(0x100 + offset + i));
    return value;
  });
}
