// Mistake: readChain clears the whole destination first, "to leave no stale
// bytes": past the end of the stream the caller's bytes are zeroed, though
// the contract leaves dest[n..] as it was (a device reading a header into
// the middle of its own buffer loses what was there).
// Source: none.
// Must fail: "readChain reads the stream, however the driver cut it" [2.7.4.1/1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { BufferSegment } from "../../../../virtqueue/types.ts";
import { readChain as copyOut } from "../correct/free_list_walk.ts";

export { addChain, detachChain, writeChain } from "../correct/free_list_walk.ts";

export function readChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  dest: Uint8Array,
  offset = 0,
): number {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`Bad offset ${offset}`);
  dest.fill(0);
  return copyOut(memory, segments, dest, offset);
}
