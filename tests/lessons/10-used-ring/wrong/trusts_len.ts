// Mistake: the device's len is passed on unchecked: a device reporting more
// bytes than the buffer has makes the driver read past it.
// Source: Linux d00d8da5869a "virtio_console: Assure used length from device is limited" (CVE-2021-38160).
// Must fail: "a used len above the writable bytes posted is refused" [2.7.8.2/2]

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
  ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
  ring.published--;
  return { token: detach(id), len };
}
