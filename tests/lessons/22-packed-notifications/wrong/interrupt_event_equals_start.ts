// Mistake: the device interrupts only when the event slot is exactly the first slot of what it used since the last decision, so a chain that steps over the slot the driver armed sends no interrupt.
// Source: microsoft/openvmm PR #4267 ("virtio: notify when a packed completion passes the armed position", open at the time of writing)
// Must fail: "the interrupt: with event idx, DESC notifies exactly for the slot it names" [2.8.10/D2]

// deno-lint-ignore-file no-unused-vars
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
  return ((next - moved - event) & 0xffff) === 0;
}

export function needsInterruptPacked(ring: PackedDeviceRing): boolean {
  if (ring.usedSinceSignal === 0) return false;
  const moved = ring.usedSinceSignal;
  ring.usedSinceSignal = 0;
  const word = ring.memory.readU32(ring.driverEventAddr);
  return should(word, ring.eventIdx, ring.size, ring.nextUsed, ring.usedWrap, moved, (flags) => {
    if (ring.lastBadDriverFlags === flags) return;
    ring.lastBadDriverFlags = flags;
    ring.reporter.report("2.8.14/D1", `driver event flags ${flags}`, { flags }, "as ENABLE");
  });
}
