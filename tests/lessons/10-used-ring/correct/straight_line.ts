// Correct: straight-line code over the record's fields, one step per line,
// with the layout constants from the library and the checks in the order the
// stub's table gives them.

import {
  usedElemOffset,
  VIRTQ_USED_ELEM_ID_OFFSET,
  VIRTQ_USED_ELEM_LEN_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "../../../../virtqueue/layout.ts";
import {
  breakDriverRing,
  HEAD_PUBLISHED,
  type SplitDriverRing,
} from "../../../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const elem = ring.usedAddr + usedElemOffset(ring.usedIdx % ring.size);
  ring.memory.writeU32(elem + VIRTQ_USED_ELEM_ID_OFFSET, head);
  ring.memory.writeU32(elem + VIRTQ_USED_ELEM_LEN_OFFSET, len);
  const next = (ring.usedIdx + 1) % 0x10000;
  ring.memory.writeU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET, next);
  ring.usedIdx = next;
}

export function moreUsed(ring: SplitDriverRing<unknown>): boolean {
  return ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET) !== ring.lastUsed;
}

export function getBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): UsedBuffer<T> | null {
  const usedIdx = ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET);
  if (usedIdx === ring.lastUsed) return null;
  const waiting = (usedIdx - ring.lastUsed + 0x10000) % 0x10000;
  if (waiting > ring.published) {
    return breakDriverRing(
      ring,
      "2.7.8/D2",
      `The device moved the used idx to ${usedIdx}: ${waiting} entries, ${ring.published} posted`,
      { usedIdx, waiting, published: ring.published },
    );
  }
  const elem = ring.usedAddr + usedElemOffset(ring.lastUsed % ring.size);
  const id = ring.memory.readU32(elem + VIRTQ_USED_ELEM_ID_OFFSET);
  const len = ring.memory.readU32(elem + VIRTQ_USED_ELEM_LEN_OFFSET);
  if (id >= ring.size || ring.state[id] !== HEAD_PUBLISHED) {
    return breakDriverRing(ring, "2.7.8/D1", `Used id ${id} heads no chain in flight`, { id });
  }
  if (len > ring.writable[id]) {
    return breakDriverRing(
      ring,
      "2.7.8.2/2",
      `Used len ${len} for chain ${id}, which has ${ring.writable[id]} writable bytes`,
      { id, len },
    );
  }
  ring.lastUsed = (ring.lastUsed + 1) % 0x10000;
  ring.published -= 1;
  return { token: detach(id), len };
}
