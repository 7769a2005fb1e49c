// Mistake: the device turns the written value into an int with `| 0`, as C
// code does with a signed int: 0xffff_ffff becomes -1, which passes the
// "below the number of queues" test, and the lookup of queue -1 throws.
// Source: QEMU CVE-2011-2512, fixed by commit 7157e2e23e89 ("virtio: guard against negative vq
// notifies"): virtio_queue_notify's signed comparison let a negative queue number through.
// Must fail: "an index beyond the queues names no queue, 0xffff_ffff included" [4.2.3.3/D1]

import type { NotifyContext, NotifyTarget } from "../../../../transport/queue_notify.ts";

export {
  disableNotifications,
  enableNotifications,
  needsKick,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function queueNotifyTarget(value: number, device: NotifyContext): NotifyTarget {
  const queue = value | 0;
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
