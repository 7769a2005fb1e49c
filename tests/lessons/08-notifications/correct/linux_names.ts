// Correct: straight from Linux's virtio_ring.c and QEMU's virtio.c, one
// function per step, the library's checkUsedFlags for the device's bad flags.

import { checkUsedFlags } from "../../../../virtqueue/driver/avail.ts";
import { VIRTQ_USED_F_NO_NOTIFY } from "../../../../virtqueue/constants.ts";
import { VIRTQ_AVAIL_IDX_OFFSET, VIRTQ_USED_FLAGS_OFFSET } from "../../../../virtqueue/layout.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { NotifyContext, NotifyTarget } from "../../../../transport/queue_notify.ts";

const DRIVER_OK = 0x04;

export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

export function needsKick(ring: SplitDriverRing<unknown>, oldIdx: number): boolean {
  if (ring.eventIdx) {
    return vringNeedEvent(ring.memory.readU16(ring.availEventAddr), ring.availIdx, oldIdx);
  }
  const flags = ring.memory.readU16(ring.usedAddr + VIRTQ_USED_FLAGS_OFFSET);
  checkUsedFlags(ring, flags);
  return (flags & VIRTQ_USED_F_NO_NOTIFY) === 0;
}

export function queueNotifyTarget(value: number, device: NotifyContext): NotifyTarget {
  const queue = value >>> 0;
  if ((device.status & DRIVER_OK) === 0) {
    return {
      deliver: false,
      queue,
      problem: {
        id: "3.1.1/6",
        message: `Notification for queue ${queue} before DRIVER_OK`,
        values: { queue, status: device.status },
        action: "ignored",
      },
    };
  }
  if (!device.active) return { deliver: false, queue, problem: null };
  if (queue >= device.queues.length) {
    return {
      deliver: false,
      queue,
      problem: {
        id: "4.2.3.3/D1",
        message: `Notification for queue ${queue}, which does not exist`,
        values: { queue, queues: device.queues.length },
        action: "ignored",
      },
    };
  }
  if (!device.queues[queue].ready) {
    return {
      deliver: false,
      queue,
      problem: {
        id: "4.2.3.3/D1",
        message: `Notification for queue ${queue}, which is not ready`,
        values: { queue },
        action: "ignored",
      },
    };
  }
  return { deliver: true, queue, problem: null };
}

export function disableNotifications(ring: SplitDeviceRing): void {
  ring.notifications = false;
  if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, (ring.lastAvail - 1) & 0xffff);
  else ring.memory.writeU16(ring.usedAddr + VIRTQ_USED_FLAGS_OFFSET, VIRTQ_USED_F_NO_NOTIFY);
}

export function enableNotifications(ring: SplitDeviceRing): boolean {
  ring.notifications = true;
  if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, ring.lastAvail);
  else ring.memory.writeU16(ring.usedAddr + VIRTQ_USED_FLAGS_OFFSET, 0);
  return ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET) !== ring.lastAvail;
}
