// Mistake: the device side reads and writes only the chain's first buffer,
// as if every request came in one descriptor; a header cut in two, or data
// in several buffers, is lost.
// Source: cloud-hypervisor/cloud-hypervisor PR #7802 (the console processed only the first descriptor of a chain).
// Must fail: "readChain reads the stream, however the driver cut it" [2.7.4.1/1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { BufferSegment } from "../../../../virtqueue/types.ts";

export { addChain, detachChain } from "../correct/free_list_walk.ts";

function first(segments: readonly BufferSegment[], length: number, offset: number) {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`Bad offset ${offset}`);
  const seg = segments[0];
  if (!seg || offset >= seg.len) return null;
  return { addr: seg.addr + offset, len: Math.min(length, seg.len - offset) };
}

export function readChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  dest: Uint8Array,
  offset = 0,
): number {
  const part = first(segments, dest.length, offset);
  if (!part) return 0;
  dest.set(memory.bytes(part.addr, part.len));
  return part.len;
}

export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  const part = first(segments, src.length, offset);
  if (!part) return 0;
  memory.bytes(part.addr, part.len).set(src.subarray(0, part.len));
  return part.len;
}
