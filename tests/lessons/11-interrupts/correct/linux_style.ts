// Correct: the way Linux writes it: vm_interrupt's read-acknowledge-dispatch
// with the status masked first, the ring flags set and cleared in place, and
// virtblk_done's do { disable; reap } while (!enable) loop.

import type {
  InterruptAcknowledgement,
  InterruptRaise,
} from "../../../../transport/interrupt_status.ts";
import type { InterruptHandlers, InterruptResult } from "../../../../transport/driver_interrupt.ts";
import {
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_MASK,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
} from "../../../../transport/mmio_registers.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import { VIRTIO_CONFIG_S_DRIVER_OK } from "../../../../virtio/status.ts";
import { VIRTQ_AVAIL_F_NO_INTERRUPT } from "../../../../virtqueue/constants.ts";
import { VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_USED_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { UsedBufferSource } from "../../../../virtqueue/driver/drain.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

export function raiseInterrupt(
  interruptStatus: number,
  event: number,
  status: number,
): InterruptRaise {
  const bit = event & VIRTIO_MMIO_INT_MASK;
  if (bit === 0 || !(status & VIRTIO_CONFIG_S_DRIVER_OK)) {
    return { interruptStatus, sent: false };
  }
  return { interruptStatus: interruptStatus | bit, sent: true };
}

export function acknowledgeInterrupt(
  interruptStatus: number,
  value: number,
): InterruptAcknowledgement {
  const extra = (value & ~VIRTIO_MMIO_INT_MASK) >>> 0;
  return {
    interruptStatus: interruptStatus & ~(value & VIRTIO_MMIO_INT_MASK),
    problem: extra === 0 ? null : {
      id: "4.2.2.2/13",
      message: `InterruptACK 0x${value.toString(16)} has undefined bits 0x${extra.toString(16)}`,
      values: { value, extra },
      action: "undefined bits ignored",
    },
  };
}

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  if (ring.broken !== null || ring.usedIdx === ring.signalledUsed) return false;
  ring.signalledUsed = ring.usedIdx;
  const flags = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET);
  checkAvailFlags(ring, flags);
  return (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
}

export function handleInterrupt(
  window: RegisterWindow,
  handlers: InterruptHandlers,
): InterruptResult {
  const status = window.read32(VIRTIO_MMIO_INTERRUPT_STATUS) >>> 0;
  const events = status & VIRTIO_MMIO_INT_MASK;
  if (events === 0) return { status, acknowledged: 0 };
  window.write32(VIRTIO_MMIO_INTERRUPT_ACK, events);
  if (events & VIRTIO_MMIO_INT_CONFIG) handlers.configChanged();
  if (events & VIRTIO_MMIO_INT_VRING) handlers.usedBuffers();
  return { status, acknowledged: events };
}

export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  ring.callbacks = false;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_AVAIL_F_NO_INTERRUPT);
}

export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  ring.callbacks = true;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
  return ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET) === ring.lastUsed;
}

export function drainUsed<T>(
  queue: UsedBufferSource<T>,
  onUsed: (used: UsedBuffer<T>) => void,
): void {
  do {
    queue.disableCallbacks();
    let used: UsedBuffer<T> | null;
    while ((used = queue.getBuf()) !== null) onUsed(used);
  } while (!queue.enableCallbacks());
}
