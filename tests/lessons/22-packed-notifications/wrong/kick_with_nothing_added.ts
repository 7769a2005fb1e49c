// Mistake: a kick is decided, and sent under ENABLE, even when nothing was made available.
// Source: none
// Must fail: "the kick: the decision uses up the count and stores nothing" [2.8.10/D1]

import type { PackedDriverRing } from "../../../../virtqueue/packed/driver_ring.ts";
import {
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  RING_EVENT_FLAGS_ENABLE,
} from "../../../../virtqueue/packed/constants.ts";

export {
  enableCallbacksPacked,
  enableNotificationsPacked,
  needsInterruptPacked,
} from "../correct/need_event.ts";

const needEvent = (event: number, next: number, old: number) =>
  ((next - event - 1) & 0xffff) < ((next - old) & 0xffff);

function should(
  word: number,
  eventIdx: boolean,
  size: number,
  next: number,
  wrap: number,
  moved: number,
  report: (flags: number) => void,
): boolean {
  const flags = word >>> 16;
  const valid = flags === RING_EVENT_FLAGS_ENABLE || flags === RING_EVENT_FLAGS_DISABLE ||
    (flags === RING_EVENT_FLAGS_DESC && eventIdx);
  if (!valid) {
    report(flags);
    return true;
  }
  if (flags !== RING_EVENT_FLAGS_DESC) return flags === RING_EVENT_FLAGS_ENABLE;
  if (moved >= size) return true;
  let event = word & 0x7fff;
  if ((word >>> 15 & 1) !== wrap) event -= size;
  return needEvent(event, next, next - moved);
}

export function needsKickPacked(ring: PackedDriverRing<unknown>): boolean {
  const moved = ring.numAdded;
  ring.numAdded = 0;
  const word = ring.memory.readU32(ring.deviceEventAddr);
  return should(word, ring.eventIdx, ring.size, ring.nextAvail, ring.availWrap, moved, (flags) => {
    if (ring.lastBadDeviceFlags === flags) return;
    ring.lastBadDeviceFlags = flags;
    ring.reporter.report("2.8.14/D2", `device event flags ${flags}`, { flags }, "as ENABLE");
  });
}
