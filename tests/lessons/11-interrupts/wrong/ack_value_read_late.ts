// Mistake: the handler acknowledges exactly what it read, but only after
// handling it: the bit of an event raised meanwhile is the same bit, and the
// late ACK clears it.
// Source: asterinas PR #2493 (an ACK after handling froze the console).
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
  const events = status & 3;
  if (events === 0) return { status, acknowledged: 0 };
  if (events & 2) handlers.configChanged();
  if (events & 1) handlers.usedBuffers();
  window.write32(0x064, events);
  return { status, acknowledged: events };
}
