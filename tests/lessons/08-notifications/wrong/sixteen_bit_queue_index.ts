// Mistake: §4.2.3.3 says the driver writes "the 16-bit virtqueue index", so
// the device keeps the low 16 bits of what was written: 0x1_0000 becomes
// queue 0, and a value that names no queue notifies one.
// Source: none
// Must fail: "an index beyond the queues names no queue, 0xffff_ffff included" [4.2.3.3/D1]

import type { NotifyContext, NotifyTarget } from "../../../../transport/queue_notify.ts";

export {
  disableNotifications,
  enableNotifications,
  needsKick,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function queueNotifyTarget(value: number, device: NotifyContext): NotifyTarget {
  const queue = value & 0xffff;
  const refuse = (id: "3.1.1/6" | "4.2.3.3/D1", message: string): NotifyTarget => ({
    deliver: false,
    queue,
    problem: { id, message, values: { queue }, action: "ignored" },
  });
  if ((device.status & 0x04) === 0) return refuse("3.1.1/6", "Notification before DRIVER_OK");
  if (!device.active) return { deliver: false, queue, problem: null };
  if (queue >= device.queues.length) return refuse("4.2.3.3/D1", `No queue ${queue}`);
  if (!device.queues[queue].ready) return refuse("4.2.3.3/D1", `Queue ${queue} is not ready`);
  return { deliver: true, queue, problem: null };
}
