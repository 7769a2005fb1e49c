// Mistake: a bad entry is reported to the log directly and null returned,
// but the ring is not broken: the queue calls getBuf again and reports the
// same entry again, and goes on adding chains to a device that lies.
// Source: none (Linux's BAD_RING both reports and sets vq->broken).
// Must fail: "a used entry that breaks a rule breaks the queue" [2.7.8/D1]

import { HEAD_PUBLISHED } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { RequirementId } from "../../../../conformance/requirements.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

export { moreUsed, pushUsed } from "../correct/straight_line.ts";

function refuse(ring: SplitDriverRing<unknown>, id: RequirementId, message: string): null {
  ring.reporter.report(id, message, {}, "entry ignored");
  return null;
}

export function getBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): UsedBuffer<T> | null {
  const idx = ring.memory.readU16(ring.usedAddr + 2);
  if (idx === ring.lastUsed) return null;
  if (((idx - ring.lastUsed) & 0xffff) > ring.published) {
    return refuse(ring, "2.7.8/D2", `used idx ${idx} too far`);
  }
  const elem = ring.usedAddr + 4 + 8 * (ring.lastUsed & ring.mask);
  const id = ring.memory.readU32(elem);
  const len = ring.memory.readU32(elem + 4);
  if (id >= ring.size || ring.state[id] !== HEAD_PUBLISHED) {
    return refuse(ring, "2.7.8/D1", `bad used id ${id}`);
  }
  if (len > ring.writable[id]) return refuse(ring, "2.7.8.2/2", `len ${len}`);
  ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
  ring.published--;
  return { token: detach(id), len };
}
