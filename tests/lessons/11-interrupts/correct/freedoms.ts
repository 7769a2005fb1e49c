// Correct: takes every freedom the contracts leave. The handler calls
// usedBuffers before configChanged and acknowledges each event in its own
// write (all before the first handler); a spurious interrupt is answered
// with a harmless 0. The device reads the flags before it knows whether
// anything was pushed, reports bad ones every time in its own words, and
// words its InterruptACK problem differently. The callbacks keep the other
// bits of flags by read-modify-write, and the reap loop takes a whole batch
// before it hands any of it on.

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

export function raiseInterrupt(
  interruptStatus: number,
  event: number,
  status: number,
): InterruptRaise {
  const bit = event % 4; // bits 0 and 1 of an unsigned event
  const sent = bit !== 0 && (status >> 2) % 2 === 1;
  return { interruptStatus: sent ? interruptStatus | bit : interruptStatus, sent };
}

export function acknowledgeInterrupt(
  interruptStatus: number,
  value: number,
): InterruptAcknowledgement {
  const undefinedBits = value >>> 2 !== 0;
  return {
    interruptStatus: interruptStatus - (interruptStatus & value & 3),
    problem: undefinedBits
      ? { id: "4.2.2.2/13", message: "Reserved InterruptACK bits written", values: {} }
      : null,
  };
}

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  const flags = ring.memory.readU16(ring.availAddr);
  if (ring.broken !== null) return false;
  const pushed = ring.usedIdx !== ring.signalledUsed;
  ring.signalledUsed = ring.usedIdx;
  if (!pushed) return false;
  if (flags & 0xfffe) {
    ring.reporter.report("2.7.7.1/1", "Driver set reserved avail flags", { flags }, "logged");
  }
  return !(flags & 1);
}

export function handleInterrupt(
  window: RegisterWindow,
  handlers: InterruptHandlers,
): InterruptResult {
  const status = window.read32(0x060) >>> 0;
  const used = (status & 1) !== 0;
  const config = (status & 2) !== 0;
  if (!used && !config) {
    window.write32(0x064, 0); // nothing to acknowledge, and harmless
    return { status, acknowledged: 0 };
  }
  if (used) window.write32(0x064, 1);
  if (config) window.write32(0x064, 2);
  if (used) handlers.usedBuffers();
  if (config) handlers.configChanged();
  return { status, acknowledged: (used ? 1 : 0) | (config ? 2 : 0) };
}

export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  const flags = ring.memory.readU16(ring.availAddr);
  ring.memory.writeU16(ring.availAddr, flags | 1);
  ring.callbacks = false;
}

export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  const flags = ring.memory.readU16(ring.availAddr);
  ring.memory.writeU16(ring.availAddr, flags & ~1);
  ring.callbacks = true;
  return ring.memory.readU16(ring.usedAddr + 2) === ring.lastUsed;
}

export function drainUsed<T>(
  queue: UsedBufferSource<T>,
  onUsed: (used: UsedBuffer<T>) => void,
): void {
  for (;;) {
    queue.disableCallbacks();
    const batch: UsedBuffer<T>[] = [];
    for (let u = queue.getBuf(); u !== null; u = queue.getBuf()) batch.push(u);
    for (const u of batch) onUsed(u); // the whole batch first, still with notifications off
    if (queue.enableCallbacks()) return;
  }
}
