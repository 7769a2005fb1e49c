// Mistake: the stream functions skip `offset` bytes into every buffer, not
// once into the stream: from the second buffer on, bytes are missed (or
// repeated), whenever the offset is not 0.
// Source: none.
// Must fail: "writeChain writes the stream, however the driver cut it" [2.7.4.1/1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { BufferSegment } from "../../../../virtqueue/types.ts";

export { addChain, detachChain } from "../correct/free_list_walk.ts";

function walk(
  segments: readonly BufferSegment[],
  length: number,
  offset: number,
  copy: (addr: number, at: number, n: number) => void,
): number {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`Bad offset ${offset}`);
  let done = 0;
  for (const seg of segments) {
    if (done === length || offset >= seg.len) continue;
    const n = Math.min(seg.len - offset, length - done);
    copy(seg.addr + offset, done, n);
    done += n;
  }
  return done;
}

export function readChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  dest: Uint8Array,
  offset = 0,
): number {
  return walk(segments, dest.length, offset, (a, at, n) => dest.set(memory.bytes(a, n), at));
}

export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  return walk(segments, src.length, offset, (a, at, n) => {
    memory.bytes(a, n).set(src.subarray(at, at + n));
  });
}
