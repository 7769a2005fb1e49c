// Mistake: the device checks that the queue exists but not that it is
// ready: a notification for a queue the driver set up and stopped (or never
// enabled) reaches the device model, which then reads rings nobody vouches
// for.
// Source: none
// Must fail: "a queue that is not ready gets no notification" [4.2.3.3/D1]

import type { NotifyContext, NotifyTarget } from "../../../../transport/queue_notify.ts";

export {
  disableNotifications,
  enableNotifications,
  needsKick,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function queueNotifyTarget(value: number, device: NotifyContext): NotifyTarget {
  const queue = value >>> 0;
  if ((device.status & 0x04) === 0) {
    return {
      deliver: false,
      queue,
      problem: { id: "3.1.1/6", message: "Kick before DRIVER_OK", values: {}, action: "ignored" },
    };
  }
  if (!device.active) return { deliver: false, queue, problem: null };
  if (queue < device.queues.length) return { deliver: true, queue, problem: null };
  return {
    deliver: false,
    queue,
    problem: { id: "4.2.3.3/D1", message: `No queue ${queue}`, values: {}, action: "ignored" },
  };
}
