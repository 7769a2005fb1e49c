// Mistake: flags the driver may not write are reported but then read as DISABLE (no interrupt), by throwing out of the decision.
// Source: none
// Must fail: "the interrupt: flags the other side may not write are reported and read as ENABLE" [2.8.14/D1]

import type { PackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";
import {
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  RING_EVENT_FLAGS_ENABLE,
} from "../../../../virtqueue/packed/constants.ts";

export {
  enableCallbacksPacked,
  enableNotificationsPacked,
  needsKickPacked,
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

export function needsInterruptPacked(ring: PackedDeviceRing): boolean {
  if (ring.usedSinceSignal === 0) return false;
  const moved = ring.usedSinceSignal;
  ring.usedSinceSignal = 0;
  const word = ring.memory.readU32(ring.driverEventAddr);
  return should(word, ring.eventIdx, ring.size, ring.nextUsed, ring.usedWrap, moved, (flags) => {
    if (ring.lastBadDriverFlags === flags) return;
    ring.lastBadDriverFlags = flags;
    ring.reporter.report("2.8.14/D1", `driver event flags ${flags}`, { flags }, "as DISABLE");
    throw new Error("no interrupt");
  });
}
