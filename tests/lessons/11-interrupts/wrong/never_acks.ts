// Mistake: the handler reads InterruptStatus and dispatches, and never
// writes InterruptACK: the bits stay set, the level-triggered line stays
// high, and the handler runs again and again until the line is masked.
// Source: xv6-riscv before 7a5fcb2 (2020-04-18, "Write interrupt ack register in virtio_disk_intr()").
// Must fail: "the events read are acknowledged at once, before they are handled" [4.2.3.4.1/3]

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
  if (status & 2) handlers.configChanged();
  if (status & 1) handlers.usedBuffers();
  return { status, acknowledged: 0 };
}
