// Mistake: the device looks only at whether it is active: a notification
// that comes before DRIVER_OK is dropped as silently as one to a FAILED
// device, and the driver that kicked too early (the class of NetBSD's
// viocon(4), which queued its receive buffers before attachment had finished)
// is never told.
// Source: none (the driver-side class: NetBSD PR kern/58555, viocon.c rev. 1.10)
// Must fail: "a device that is not live takes no notification" [3.1.1/6]

import type { NotifyContext, NotifyTarget } from "../../../../transport/queue_notify.ts";

export {
  disableNotifications,
  enableNotifications,
  needsKick,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function queueNotifyTarget(value: number, device: NotifyContext): NotifyTarget {
  const queue = value >>> 0;
  if (!device.active) return { deliver: false, queue, problem: null };
  if (queue >= device.queues.length || !device.queues[queue].ready) {
    return {
      deliver: false,
      queue,
      problem: {
        id: "4.2.3.3/D1",
        message: `Notification for queue ${queue}, which is not live`,
        values: { queue },
        action: "ignored",
      },
    };
  }
  return { deliver: true, queue, problem: null };
}
