// Mistake: InterruptStatus is read as a signed number and "nothing pending"
// tested with <= 0: a status with bit 31 set is negative, and the events in
// it are neither acknowledged nor handled.
// Source: none (JavaScript's | 0; the kit's spurious-interrupt test shows the same bug).
// Must fail: "undefined InterruptStatus bits are disregarded, and returned as read" [4.2.2.2/12]

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
  const status = window.read32(0x060) | 0;
  if (status <= 0) return { status, acknowledged: 0 };
  const events = status & 3;
  if (events === 0) return { status, acknowledged: 0 };
  window.write32(0x064, events);
  if (events & 2) handlers.configChanged();
  if (events & 1) handlers.usedBuffers();
  return { status, acknowledged: events };
}
