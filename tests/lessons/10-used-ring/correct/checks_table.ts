// Correct: the driver's checks as a table of rules, each a predicate with its
// requirement id and message, tried in order; the device side through small
// helpers for addresses and 16-bit arithmetic (masks, not modulo).

import { breakDriverRing, HEAD_PUBLISHED } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { RequirementId } from "../../../../conformance/requirements.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

const IDX = 2; // le16 idx, after le16 flags
const RING = 4; // ring[] starts here
const ELEM = 8; // le32 id, le32 len

const u16 = (n: number) => n & 0xffff;
const elemAt = (usedAddr: number, size: number, index: number) =>
  usedAddr + RING + ELEM * (index & (size - 1));

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const at = elemAt(ring.usedAddr, ring.size, ring.usedIdx);
  ring.memory.writeU32(at + 4, len); // len first, then id: both before idx
  ring.memory.writeU32(at, head);
  ring.usedIdx = u16(ring.usedIdx + 1);
  ring.memory.writeU16(ring.usedAddr + IDX, ring.usedIdx);
}

export function moreUsed(ring: SplitDriverRing<unknown>): boolean {
  return u16(ring.memory.readU16(ring.usedAddr + IDX) - ring.lastUsed) !== 0;
}

interface Entry {
  readonly idx: number;
  readonly id: number;
  readonly len: number;
}

interface Rule {
  readonly id: RequirementId;
  readonly broken: (ring: SplitDriverRing<unknown>, e: Entry) => boolean;
  readonly says: (ring: SplitDriverRing<unknown>, e: Entry) => string;
}

const ELEMENT_RULES: readonly Rule[] = [
  {
    id: "2.7.8/D1",
    broken: (ring, e) => !(e.id < ring.size && ring.state[e.id] === HEAD_PUBLISHED),
    says: (_ring, e) => `id ${e.id} is not the head of a published chain`,
  },
  {
    id: "2.7.8.2/2",
    broken: (ring, e) => e.len > ring.writable[e.id],
    says: (ring, e) => `len ${e.len} exceeds the ${ring.writable[e.id]} bytes posted`,
  },
];

export function getBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): UsedBuffer<T> | null {
  const idx = ring.memory.readU16(ring.usedAddr + IDX);
  const ahead = u16(idx - ring.lastUsed);
  if (ahead === 0) return null;
  if (ahead > ring.published) {
    return breakDriverRing(ring, "2.7.8/D2", `used idx ${idx} runs ${ahead} ahead`, {
      idx,
      ahead,
    });
  }
  const at = elemAt(ring.usedAddr, ring.size, ring.lastUsed);
  const entry: Entry = { idx, id: ring.memory.readU32(at), len: ring.memory.readU32(at + 4) };
  for (const rule of ELEMENT_RULES) {
    if (rule.broken(ring, entry)) {
      return breakDriverRing(ring, rule.id, rule.says(ring, entry), {
        id: entry.id,
        len: entry.len,
      });
    }
  }
  ring.lastUsed = u16(ring.lastUsed + 1);
  ring.published--;
  return { token: detach(entry.id), len: entry.len };
}
