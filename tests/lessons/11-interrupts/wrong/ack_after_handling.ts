// Mistake: the handler does its work first and acknowledges at the end,
// reading InterruptStatus again to know what to acknowledge: an event that
// happened while it worked is acknowledged without ever being handled.
// Source: xv6-riscv 7a5fcb2 (2020-04-18) put the ACK at the end of virtio_disk_intr; aeaf610 moved it first.
// Must fail: "an event that happens while the handlers run stays pending" [4.2.3.4.1/3]

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
  if (status & 2) handlers.configChanged();
  if (status & 1) handlers.usedBuffers();
  const now = window.read32(0x060) & 3;
  window.write32(0x064, now);
  return { status, acknowledged: now };
}
