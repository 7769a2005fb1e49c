// Mistake: the piece copied into a buffer is min(buffer length, bytes left),
// forgetting the part of the buffer the offset skipped: starting inside a
// buffer, the copy runs that many bytes past its end, into whatever lies
// next to it, such as the device-readable header of the next request.
// Source: none; Firecracker issue #1462 is the same overrun in a device's bounds check.
// Must fail: "writeChain stores inside its buffers only" [2.7.5.1/1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { BufferSegment } from "../../../../virtqueue/types.ts";

export { addChain, detachChain, readChain } from "../correct/free_list_walk.ts";

export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`Bad offset ${offset}`);
  let skip = offset;
  let done = 0;
  for (const seg of segments) {
    if (done === src.length) break;
    if (skip >= seg.len) {
      skip -= seg.len;
      continue;
    }
    const n = Math.min(seg.len, src.length - done);
    memory.write(seg.addr + skip, src.subarray(done, done + n));
    done += n;
    skip = 0;
  }
  return done;
}
