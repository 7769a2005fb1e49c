// Mistake: lastUsed is kept as a slot number (modulo the Queue Size), while
// the device's idx runs free: after the first lap the distance between them
// is wrong, and good entries are refused as running too far ahead.
// Source: xv6-riscv before aeaf610 (2020-10-04): used_idx = (used_idx + 1) % NUM.
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
  if (((idx - ring.lastUsed) & 0xffff) > ring.published) {
    return breakDriverRing(ring, "2.7.8/D2", `used idx ${idx} too far`, { idx });
  }
  const elem = ring.usedAddr + 4 + 8 * (ring.lastUsed & ring.mask);
  const id = ring.memory.readU32(elem);
  const len = ring.memory.readU32(elem + 4);
  if (id >= ring.size || ring.state[id] !== HEAD_PUBLISHED) {
    return breakDriverRing(ring, "2.7.8/D1", `bad used id ${id}`, { id });
  }
  if (len > ring.writable[id]) return breakDriverRing(ring, "2.7.8.2/2", `len ${len}`, { len });
  ring.lastUsed = (ring.lastUsed + 1) % ring.size;
  ring.published--;
  return { token: detach(id), len };
}
