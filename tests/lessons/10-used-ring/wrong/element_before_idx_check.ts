// Mistake: each element is judged on its own, and the used idx is never
// checked against what is outstanding: a device that moves idx two entries
// ahead with one chain in flight gets its first entry reaped, and then a
// stale element read as a second one.
// Source: none (the idx check is the one that looks redundant).
// Must fail: "a used idx beyond what is outstanding is refused, across the wrap too" [2.7.8/D2]

import { breakDriverRing, HEAD_PUBLISHED } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

export { moreUsed, pushUsed } from "../correct/straight_line.ts";

export function getBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): UsedBuffer<T> | null {
  const idx = ring.memory.readU16(ring.usedAddr + 2);
  if (idx === ring.lastUsed) return null;
  const elem = ring.usedAddr + 4 + 8 * (ring.lastUsed & ring.mask);
  const id = ring.memory.readU32(elem);
  const len = ring.memory.readU32(elem + 4);
  if (id >= ring.size || ring.state[id] !== HEAD_PUBLISHED) {
    // A stale element only shows up as a bad id: blame the idx then.
    const rule = ring.published === 0 ? "2.7.8/D2" : "2.7.8/D1";
    return breakDriverRing(ring, rule, `bad used entry ${id}`, { id, idx });
  }
  if (len > ring.writable[id]) return breakDriverRing(ring, "2.7.8.2/2", `len ${len}`, { len });
  ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
  ring.published--;
  return { token: detach(id), len };
}
