// Correct: takes every freedom the contract leaves. The device writes the
// whole element in one 64-bit store; the driver reads flags and idx in one
// 32-bit load, logs bad used ring flags with checkUsedFlags, frees the chain
// before it moves its own indices, and words its reports its own way.

import { checkUsedFlags } from "../../../../virtqueue/driver/avail.ts";
import { breakDriverRing, HEAD_PUBLISHED } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const slot = ring.usedIdx & ring.mask;
  // le32 id then le32 len: one little-endian u64 with id in the low half.
  ring.memory.writeU64(ring.usedAddr + 4 + 8 * slot, (BigInt(len) << 32n) | BigInt(head));
  ring.usedIdx = ring.usedIdx === 0xffff ? 0 : ring.usedIdx + 1;
  ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
}

/** flags (low half) and idx (high half) of the used ring, in one load. */
function header(ring: SplitDriverRing<unknown>): { flags: number; idx: number } {
  const word = ring.memory.readU32(ring.usedAddr);
  return { flags: word & 0xffff, idx: word >>> 16 };
}

export function moreUsed(ring: SplitDriverRing<unknown>): boolean {
  return header(ring).idx !== ring.lastUsed;
}

export function getBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): UsedBuffer<T> | null {
  const { flags, idx } = header(ring);
  if (idx === ring.lastUsed) return null;
  checkUsedFlags(ring, flags);
  let distance = idx - ring.lastUsed;
  if (distance < 0) distance += 65536;
  if (distance > ring.published) {
    return breakDriverRing(ring, "2.7.8/D2", "the device returned more than it was given", {
      distance,
    });
  }
  const word = ring.memory.readU64(ring.usedAddr + 4 + 8 * (ring.lastUsed & ring.mask));
  const id = Number(word & 0xffff_ffffn);
  const len = Number(word >> 32n);
  if (!(id < ring.size) || ring.state[id] !== HEAD_PUBLISHED) {
    return breakDriverRing(ring, "2.7.8/D1", "not one of ours", {});
  }
  if (len > ring.writable[id]) return breakDriverRing(ring, "2.7.8.2/2", "too long", {});
  const token = detach(id);
  ring.published--;
  ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
  return { token, len };
}
