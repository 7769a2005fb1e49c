// Mistake: the driver reads the device's wish once per ring and keeps it, as
// if it never changed ("saves a read on every kick"): a device that turns
// notifications back on after draining is never notified again, and one that
// turns them off gets kicks anyway. Only a read made after the idx store sees
// the device as it is.
// Source: none
// Must fail: "needsKick decides on the field as it is after the idx store" [2.7.13.4.1/1]

import { checkUsedFlags } from "../../../../virtqueue/driver/avail.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import { vringNeedEvent } from "../correct/linux_names.ts";

export {
  disableNotifications,
  enableNotifications,
  queueNotifyTarget,
  vringNeedEvent,
} from "../correct/linux_names.ts";

const wish = new WeakMap<object, number>();

export function needsKick(ring: SplitDriverRing<unknown>, oldIdx: number): boolean {
  let field = wish.get(ring);
  if (field === undefined) {
    field = ring.memory.readU16(ring.eventIdx ? ring.availEventAddr : ring.usedAddr);
    wish.set(ring, field);
    if (!ring.eventIdx) checkUsedFlags(ring, field);
  }
  return ring.eventIdx ? vringNeedEvent(field, ring.availIdx, oldIdx) : (field & 1) === 0;
}
