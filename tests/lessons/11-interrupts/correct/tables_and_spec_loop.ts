// Correct: events as a table of (bit, handler) pairs walked in order; the
// register arithmetic written as set operations on small numbers; and the
// reap loop of §2.7.14's note, one entry at a time, with its two comparisons
// the right way round (enable and look again only when the ring is empty).

import type {
  InterruptAcknowledgement,
  InterruptRaise,
} from "../../../../transport/interrupt_status.ts";
import type { InterruptHandlers, InterruptResult } from "../../../../transport/driver_interrupt.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { UsedBufferSource } from "../../../../virtqueue/driver/drain.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

const INTERRUPT_STATUS = 0x060;
const INTERRUPT_ACK = 0x064;
const EVENTS: readonly { bit: number; handler: keyof InterruptHandlers }[] = [
  { bit: 0b10, handler: "configChanged" },
  { bit: 0b01, handler: "usedBuffers" },
];
const DEFINED = EVENTS.reduce((mask, e) => mask | e.bit, 0);
const DRIVER_OK = 0x04;

export function raiseInterrupt(
  interruptStatus: number,
  event: number,
  status: number,
): InterruptRaise {
  const live = (status & DRIVER_OK) === DRIVER_OK;
  const raised = EVENTS.filter((e) => live && (event & e.bit) !== 0);
  return {
    interruptStatus: raised.reduce((s, e) => s | e.bit, interruptStatus),
    sent: raised.length > 0,
  };
}

export function acknowledgeInterrupt(
  interruptStatus: number,
  value: number,
): InterruptAcknowledgement {
  let left = interruptStatus;
  for (const e of EVENTS) if (value & e.bit) left &= ~e.bit;
  const stray = value - (value & DEFINED);
  return {
    interruptStatus: left,
    problem: stray > 0
      ? {
        id: "4.2.2.2/13",
        message: `the driver acknowledged bits no event has (${stray.toString(2)})`,
        values: { value },
      }
      : null,
  };
}

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  if (ring.broken) return false;
  const fresh = ring.usedIdx !== ring.signalledUsed;
  if (!fresh) return false;
  ring.signalledUsed = ring.usedIdx;
  const flags = ring.memory.readU16(ring.availAddr);
  if (flags > 1) {
    ring.reporter.report(
      "2.7.7.1/1",
      `Available ring flags ${flags}: only 0 and 1 are allowed`,
      { flags },
      "bit 0 honoured",
    );
  }
  return flags % 2 === 0;
}

export function handleInterrupt(
  window: RegisterWindow,
  handlers: InterruptHandlers,
): InterruptResult {
  const status = window.read32(INTERRUPT_STATUS) >>> 0;
  const happened = EVENTS.filter((e) => (status & e.bit) !== 0);
  const acknowledged = happened.reduce((bits, e) => bits | e.bit, 0);
  if (acknowledged !== 0) window.write32(INTERRUPT_ACK, acknowledged);
  for (const e of happened) handlers[e.handler]();
  return { status, acknowledged };
}

export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  ring.memory.writeU16(ring.availAddr, 1);
  ring.callbacks = false;
}

export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  ring.memory.writeU16(ring.availAddr, 0);
  ring.callbacks = true;
  const idx = ring.memory.readU16(ring.usedAddr + 2);
  return ((idx - ring.lastUsed) & 0xffff) === 0;
}

export function drainUsed<T>(
  queue: UsedBufferSource<T>,
  onUsed: (used: UsedBuffer<T>) => void,
): void {
  queue.disableCallbacks();
  for (;;) {
    const used = queue.getBuf();
    if (used !== null) {
      onUsed(used);
      continue;
    }
    // Empty: notifications on, and one more look (the spec's loop, put right).
    if (queue.enableCallbacks()) return;
    queue.disableCallbacks();
  }
}
