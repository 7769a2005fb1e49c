// Mistake: the driver compares the used ring's flags with 1 instead of
// testing bit 0: a device that leaves other bits set (2.7.10.2/1) gets
// notifications it asked not to get, and nobody hears of its bad flags.
// Source: none
// Must fail: "bad used flags are reported, and only bit 0 honoured" [2.7.10.2/1]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import { vringNeedEvent } from "../correct/linux_names.ts";

export {
  disableNotifications,
  enableNotifications,
  queueNotifyTarget,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function needsKick(ring: SplitDriverRing<unknown>, oldIdx: number): boolean {
  if (ring.eventIdx) {
    return vringNeedEvent(ring.memory.readU16(ring.availEventAddr), ring.availIdx, oldIdx);
  }
  return ring.memory.readU16(ring.usedAddr) !== 1;
}
