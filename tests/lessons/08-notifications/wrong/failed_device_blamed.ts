// Mistake: the device reports every notification it cannot take as the
// driver's early kick: a FAILED device, or one that needs a reset, logs
// 3.1.1/6 although the driver had set DRIVER_OK long before and did nothing
// wrong.
// Source: none
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
  const refuse = (id: "3.1.1/6" | "4.2.3.3/D1", message: string): NotifyTarget => ({
    deliver: false,
    queue,
    problem: { id, message, values: { queue, status: device.status }, action: "ignored" },
  });
  if (!device.active) return refuse("3.1.1/6", `Notification for queue ${queue} while not live`);
  if (queue >= device.queues.length) return refuse("4.2.3.3/D1", `No queue ${queue}`);
  if (!device.queues[queue].ready) return refuse("4.2.3.3/D1", `Queue ${queue} is not ready`);
  return { deliver: true, queue, problem: null };
}
