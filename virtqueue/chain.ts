/**
 * Helpers for devices working on a popped descriptor chain (virtio v1.2
 * §2.7.4): a chain's readable or writable part is a list of guest buffers
 * that together form one byte stream, whatever the framing (§2.7.4.1/1 asks
 * the device not to assume any particular arrangement of descriptors). These
 * functions address that stream by byte offset.
 *
 * @module
 */

import type { GuestMemory } from "../memory/guest_memory.ts";
import type { BufferSegment, DescriptorChain } from "./types.ts";

/**
 * Total length of a segment list, in bytes.
 *
 * @param segments Buffers, such as a chain's `readable` or `writable` list.
 */
export function segmentsLength(segments: readonly BufferSegment[]): number {
  let total = 0;
  for (let i = 0; i < segments.length; i++) total += segments[i].len;
  return total;
}

function checkOffset(offset: number, what: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`${what} ${offset} is not a non-negative integer`);
  }
}

/**
 * Copies bytes out of a segment list, as one stream, into `dest`.
 *
 * @param memory Guest RAM.
 * @param segments The buffers to read (a chain's `readable` list).
 * @param dest Receives up to `dest.length` bytes.
 * @param offset Byte offset into the stream to start at (default 0).
 * @returns Bytes copied: `dest.length`, or fewer if the stream ends first (0 past its end).
 * @throws {RangeError} If `offset` is not a non-negative integer.
 * @throws {GuestMemoryError} If a segment is not inside RAM (never for a validated chain).
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../memory/guest_memory.ts";
 * import { readChain } from "./chain.ts";
 * const ram = new GuestMemory(4096);
 * ram.write(0x100, new Uint8Array([1, 2, 3]));
 * ram.write(0x200, new Uint8Array([4, 5]));
 * const out = new Uint8Array(4);
 * readChain(ram, [{ addr: 0x100, len: 3 }, { addr: 0x200, len: 2 }], out, 1); // 4: out = [2, 3, 4, 5]
 * ```
 */
export function readChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  dest: Uint8Array,
  offset = 0,
): number {
  checkOffset(offset, "Chain offset");
  let skip = offset;
  let copied = 0;
  for (let i = 0; i < segments.length && copied < dest.length; i++) {
    const seg = segments[i];
    if (skip >= seg.len) {
      skip -= seg.len;
      continue;
    }
    const n = Math.min(seg.len - skip, dest.length - copied);
    dest.set(memory.bytes(seg.addr + skip, n), copied);
    copied += n;
    skip = 0;
  }
  return copied;
}

/**
 * Copies `src` into a segment list, as one stream. Devices pass only a
 * chain's `writable` list, so they never write a device-readable buffer
 * (2.7.5.1/1).
 *
 * @param memory Guest RAM.
 * @param segments The buffers to fill (a chain's `writable` list).
 * @param src The bytes to write.
 * @param offset Byte offset into the stream to start at (default 0).
 * @returns Bytes written: `src.length`, or fewer if the stream ends first.
 * @throws {RangeError} If `offset` is not a non-negative integer.
 * @throws {GuestMemoryError} If a segment is not inside RAM (never for a validated chain).
 */
export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  checkOffset(offset, "Chain offset");
  let skip = offset;
  let written = 0;
  for (let i = 0; i < segments.length && written < src.length; i++) {
    const seg = segments[i];
    if (skip >= seg.len) {
      skip -= seg.len;
      continue;
    }
    const n = Math.min(seg.len - skip, src.length - written);
    memory.bytes(seg.addr + skip, n).set(src.subarray(written, written + n));
    written += n;
    skip = 0;
  }
  return written;
}

/**
 * Zero-copy views of guest memory covering bytes `[offset, offset + length)`
 * of a segment list, one view per segment touched, in stream order. Writes
 * through the views change guest RAM: a block device can read a disk image
 * straight into a request's data buffers this way.
 *
 * @param memory Guest RAM.
 * @param segments The buffers.
 * @param offset Byte offset into the stream.
 * @param length Bytes to cover (0 gives an empty list).
 * @returns Views whose lengths add up to `length`.
 * @throws {RangeError} If `offset` or `length` is not a non-negative integer, or
 *   the range goes past the end of the segments.
 * @throws {GuestMemoryError} If a segment is not inside RAM (never for a validated chain).
 */
export function chainViews(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  offset: number,
  length: number,
): Uint8Array[] {
  checkOffset(offset, "Chain offset");
  checkOffset(length, "Chain range length");
  const views: Uint8Array[] = [];
  let skip = offset;
  let left = length;
  for (let i = 0; i < segments.length && left > 0; i++) {
    const seg = segments[i];
    if (skip >= seg.len) {
      skip -= seg.len;
      continue;
    }
    const n = Math.min(seg.len - skip, left);
    views.push(memory.bytes(seg.addr + skip, n));
    left -= n;
    skip = 0;
  }
  if (left > 0) {
    throw new RangeError(
      `Chain range of ${length} byte(s) at offset ${offset} goes past the end of ` +
        `${segmentsLength(segments)} byte(s) of buffers`,
    );
  }
  return views;
}

/**
 * A copy of a chain that owns its lists and segments. A popped chain belongs
 * to its queue until the head is pushed (the reference queue refills one
 * record per head), so code that keeps a chain longer, such as a recorder
 * in a test or a trace, keeps a copy.
 *
 * @param chain A chain as `DeviceQueue.pop` returned it.
 * @returns The same chain in new objects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { copyChain } from "./chain.ts";
 * const popped = {
 *   head: 3, readable: [{ addr: 0x1000, len: 16 }], writable: [], readableLength: 16,
 *   writableLength: 0, descriptorCount: 1, indirect: false,
 * };
 * const kept = copyChain(popped);
 * assert.deepEqual(kept, popped);
 * assert.notEqual(kept.readable[0], popped.readable[0]);
 * ```
 */
export function copyChain(chain: DescriptorChain): DescriptorChain {
  return {
    head: chain.head,
    readable: chain.readable.map(({ addr, len }) => ({ addr, len })),
    writable: chain.writable.map(({ addr, len }) => ({ addr, len })),
    readableLength: chain.readableLength,
    writableLength: chain.writableLength,
    descriptorCount: chain.descriptorCount,
    indirect: chain.indirect,
  };
}
