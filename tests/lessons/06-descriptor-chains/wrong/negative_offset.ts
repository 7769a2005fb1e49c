// Mistake: the stream functions trust the offset they are given: a negative
// one starts before the first buffer, and the device reads (or writes)
// guest memory that is not the chain's.
// Source: none.
// Must fail: "an offset that is not a non-negative integer is refused" [2.7.5.1/1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { BufferSegment } from "../../../../virtqueue/types.ts";

export { addChain, detachChain } from "../correct/free_list_walk.ts";

function pieces(segments: readonly BufferSegment[], offset: number, length: number) {
  const out: { addr: number; at: number; n: number }[] = [];
  let skip = offset;
  let done = 0;
  for (const seg of segments) {
    if (done === length) break;
    if (skip >= seg.len) {
      skip -= seg.len;
      continue;
    }
    const n = Math.min(seg.len - skip, length - done);
    out.push({ addr: seg.addr + skip, at: done, n });
    done += n;
    skip = 0;
  }
  return { out, done };
}

export function readChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  dest: Uint8Array,
  offset = 0,
): number {
  const { out, done } = pieces(segments, offset, dest.length);
  for (const p of out) dest.set(memory.bytes(p.addr, p.n), p.at);
  return done;
}

export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  const { out, done } = pieces(segments, offset, src.length);
  for (const p of out) memory.bytes(p.addr, p.n).set(src.subarray(p.at, p.at + p.n));
  return done;
}
