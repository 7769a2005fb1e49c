// Mistake: the two events' bits are swapped ("config is bit 0, it came
// first in the spec's table"): a used buffer notification runs the
// configuration handler, and the queues are never reaped.
// Source: none.
// Must fail: "each event is handled once, by its own handler" [4.2.3.4.1/2]

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
  window.write32(0x064, events);
  if (events & 1) handlers.configChanged();
  if (events & 2) handlers.usedBuffers();
  return { status, acknowledged: events };
}
