// Correct: vring_need_event as "is eventIdx inside the window of entries just
// published", counted from oldIdx; the driver reports bad flags itself on every
// decision; the device's QueueNotify check as a table of refusals tried in
// order; suppression through one helper that stores the wish.

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { NotifyContext, NotifyTarget } from "../../../../transport/queue_notify.ts";

const u16 = (n: number) => n & 0xffff;

export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  const published = u16(newIdx - oldIdx);
  const offset = u16(eventIdx - oldIdx); // where the wished-for entry sits in the window
  return offset < published;
}

export function needsKick(ring: SplitDriverRing<unknown>, oldIdx: number): boolean {
  if (ring.eventIdx) {
    const availEvent = ring.memory.readU16(ring.availEventAddr);
    return vringNeedEvent(availEvent, ring.availIdx, oldIdx);
  }
  const flags = ring.memory.readU16(ring.usedAddr);
  if (flags > 1) {
    ring.reporter.report(
      "2.7.10.2/1",
      `The device left used flags ${flags} on queue ${ring.index}; only bit 0 means anything`,
      { flags },
      "only bit 0 honoured",
    );
  }
  return (flags & 1) === 0;
}

type Refusal = [
  (q: number, d: NotifyContext) => boolean,
  "3.1.1/6" | "4.2.3.3/D1" | null,
  string,
];
const REFUSALS: Refusal[] = [
  [(_q, d) => (d.status & 0x04) === 0, "3.1.1/6", "the driver has not set DRIVER_OK yet"],
  [(_q, d) => !d.active, null, "the device is not active"],
  [(q, d) => q >= d.queues.length, "4.2.3.3/D1", "there is no such queue"],
  [(q, d) => !d.queues[q].ready, "4.2.3.3/D1", "the queue is not ready"],
];

export function queueNotifyTarget(value: number, device: NotifyContext): NotifyTarget {
  const queue = Number(BigInt.asUintN(32, BigInt(value)));
  for (const [applies, id, why] of REFUSALS) {
    if (!applies(queue, device)) continue;
    return {
      deliver: false,
      queue,
      problem: id === null ? null : {
        id,
        message: `QueueNotify ${queue} ignored: ${why}`,
        values: { queue },
        action: "ignored",
      },
    };
  }
  return { deliver: true, queue, problem: null };
}

function wish(ring: SplitDeviceRing, on: boolean): void {
  ring.notifications = on;
  if (!ring.eventIdx) {
    ring.memory.writeU16(ring.usedAddr, on ? 0 : 1);
    return;
  }
  // Half the index space away from the device: no publish can get there.
  ring.memory.writeU16(ring.availEventAddr, on ? ring.lastAvail : u16(ring.lastAvail + 0x8000));
}

export function disableNotifications(ring: SplitDeviceRing): void {
  wish(ring, false);
}

export function enableNotifications(ring: SplitDeviceRing): boolean {
  wish(ring, true);
  const idx = ring.memory.readU16(ring.availAddr + 2);
  return u16(idx - ring.lastAvail) !== 0;
}
