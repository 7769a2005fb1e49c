// Mistake: the whole InterruptStatus is written back to InterruptACK, as
// read: undefined bits a faulty device set go back to it too.
// Source: Linux vm_interrupt writes the status read to InterruptACK unmasked (drivers/virtio/virtio_mmio.c).
// Must fail: "InterruptACK never gets a bit no event defines" [4.2.2.2/13]

import type { InterruptHandlers, InterruptResult } from "../../../../transport/driver_interrupt.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  acknowledgeInterrupt,
  disableCallbacks,
  drainUsed,
  enableCallbacks,
  needsInterrupt,
  raiseInterrupt,
} from "../correct/linux_style.ts";

export function handleInterrupt(
  window: RegisterWindow,
  handlers: InterruptHandlers,
): InterruptResult {
  const status = window.read32(0x060) >>> 0;
  if ((status & 3) === 0) return { status, acknowledged: 0 };
  window.write32(0x064, status);
  if (status & 2) handlers.configChanged();
  if (status & 1) handlers.usedBuffers();
  return { status, acknowledged: status & 3 };
}
