/**
 * The device walking a descriptor chain without trusting the driver (virtio
 * v1.2 §2.7.4, §2.7.5, §2.7.5.3), the checklist of QEMU's
 * `virtqueue_split_pop`: every index in range, no loop, no zero-length or
 * out-of-RAM buffer, readable before writable, at most 2^32 bytes, and the
 * indirect table rules.
 *
 * The walk is cut in two parts: {@linkcode walkChain} follows the direct
 * descriptors of the descriptor table and stops at an indirect descriptor;
 * the queue class then calls {@linkcode readIndirectTable} for the table it
 * points to. A walker therefore never has to know how tables are read.
 *
 * Each descriptor is read from guest memory exactly once, into locals, and
 * validated there; the chain returned holds copies of the addresses and
 * lengths, so a driver rewriting the table afterwards changes nothing (no
 * double fetch, FreeBSD-SA-24:17.bhyve). Neither part writes to the
 * descriptor table or an indirect table (2.7.5.1/2).
 *
 * @module
 */

import { hexAddress } from "../../memory/guest_memory.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
} from "../constants.ts";
import {
  descOffset,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
} from "../layout.ts";
import type { BufferSegment, DescriptorChain } from "../types.ts";
import { breakDeviceRing, type SplitDeviceRing } from "./ring.ts";

/** Largest total length of one chain, in bytes (2.7.5.2/1). */
const MAX_CHAIN_BYTES = 2 ** 32;

/** Shared by every chain without readable or without writable buffers. */
export const NO_SEGMENTS: readonly BufferSegment[] = Object.freeze([]);

/**
 * Walks the direct descriptors of the chain at `head` in the descriptor
 * table and validates each, shape first, then whether every buffer lies in
 * RAM:
 *
 * | rule | broken when |
 * | --- | --- |
 * | 2.7.5/D1 | a `next` is Queue Size or more |
 * | 2.7.5.3.1/3 | more than Queue Size descriptors: a loop, or an over-long chain |
 * | 2.7.5/D3 | a descriptor has `len` 0 |
 * | 2.7.5.2/1 | the lengths add up to more than 2^32 bytes |
 * | 2.7.4.2/1 | a device-readable descriptor follows a device-writable one |
 * | 2.7.5/D2 | a buffer is not inside guest RAM |
 *
 * A descriptor with `VIRTQ_DESC_F_INDIRECT` ends the walk, whatever its other
 * flags: it is counted in `descriptorCount`, copied into `ring.indirectDesc`
 * (index, addr, len, flags as read), and the chain comes back with
 * `indirect: true` for {@linkcode readIndirectTable} to finish. Any rule
 * broken breaks the ring.
 *
 * @param ring The device ring.
 * @param head Head index, below `ring.size` (as `availHead` returned it).
 * @returns The chain (readable buffers first, then writable, in chain order,
 *   with their total lengths), or `null` if the ring broke.
 * @throws {GuestMemoryError} If the descriptor table is not inside RAM.
 * @throws {ConformanceError} When the log is strict and a rule is broken.
 */
export function walkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const memory = ring.memory;
  const size = ring.size;
  let readable: BufferSegment[] | null = null;
  let writable: BufferSegment[] | null = null;
  let readableLength = 0;
  let writableLength = 0;
  let count = 0;
  let indirect = false;
  let i = head;
  for (;;) {
    if (count === size) {
      // Only `size` distinct descriptors exist: one more means a loop (which
      // 2.7.5.2/1 also rules out) or a chain over the limit.
      return breakDeviceRing(
        ring,
        "2.7.5.3.1/3",
        `Chain at head ${head} is longer than the queue size ${size}: it loops`,
        { head, descriptors: count, limit: size, indirect: false },
      );
    }
    count++;
    const at = ring.descAddr + descOffset(i);
    const addr = memory.readU64Number(at + VIRTQ_DESC_ADDR_OFFSET);
    const len = memory.readU32(at + VIRTQ_DESC_LEN_OFFSET);
    const flags = memory.readU16(at + VIRTQ_DESC_FLAGS_OFFSET);
    const next = memory.readU16(at + VIRTQ_DESC_NEXT_OFFSET);
    if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
      const d = ring.indirectDesc;
      d.index = i;
      d.addr = addr;
      d.len = len;
      d.flags = flags;
      indirect = true;
      break;
    }
    if (len === 0) {
      return breakDeviceRing(ring, "2.7.5/D3", `Descriptor ${i} of chain ${head} has length 0`, {
        head,
        desc: i,
        indirect: false,
      });
    }
    if (readableLength + writableLength + len > MAX_CHAIN_BYTES) {
      return breakDeviceRing(
        ring,
        "2.7.5.2/1",
        `Chain at head ${head} is longer than 2^32 bytes in total`,
        { head, bytes: readableLength + writableLength + len },
      );
    }
    if ((flags & VIRTQ_DESC_F_WRITE) !== 0) {
      if (writable === null) writable = [{ addr, len }];
      else writable.push({ addr, len });
      writableLength += len;
    } else {
      if (writableLength > 0) return readableAfterWritable(ring, head, i, false);
      if (readable === null) readable = [{ addr, len }];
      else readable.push({ addr, len });
      readableLength += len;
    }
    if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
    if (next >= size) {
      return breakDeviceRing(
        ring,
        "2.7.5/D1",
        `Descriptor ${i} of chain ${head} has next ${next}, beyond the queue size ${size}`,
        { head, desc: i, next, limit: size, indirect: false },
      );
    }
    i = next;
  }
  if (readable !== null && !segmentsInRam(ring, readable, head)) return null;
  if (writable !== null && !segmentsInRam(ring, writable, head)) return null;
  return {
    head,
    readable: readable ?? NO_SEGMENTS,
    writable: writable ?? NO_SEGMENTS,
    readableLength,
    writableLength,
    descriptorCount: count,
    indirect,
  };
}

/**
 * Finishes a chain that {@linkcode walkChain} stopped at an indirect
 * descriptor (`ring.indirectDesc`): checks the descriptor, then walks the
 * table it points to as a chain of its own, starting at entry 0, and returns
 * the whole chain, the direct buffers followed by the table's.
 *
 * | rule | broken when |
 * | --- | --- |
 * | 2.7.5.3.1/1 | `VIRTIO_F_INDIRECT_DESC` was not negotiated |
 * | 2.7.5.3.1/4 | the descriptor also has `VIRTQ_DESC_F_NEXT` |
 * | 2.7.5.3/D1 | its `len` is 0 or not a multiple of 16 |
 * | 2.7.5.3.1/3 | the table holds more than Queue Size entries, or its walk loops |
 * | 2.7.5/D2 | the table or one of its buffers is not inside guest RAM |
 * | 2.7.5.3.1/2 | an entry of the table is itself indirect |
 * | 2.7.5/D1 | an entry's `next` is beyond the table |
 * | 2.7.5/D3, 2.7.5.2/1, 2.7.4.2/1 | as in a direct chain, counted over the whole chain |
 *
 * The `VIRTQ_DESC_F_WRITE` flag of the pointing descriptor means nothing
 * (2.7.5.3.2/1): the table's entries say which buffers are writable. The
 * chain may hold direct descriptors before the indirect one (2.7.5.3.2/2).
 *
 * @param ring The device ring.
 * @param chain The direct part, as `walkChain` returned it with `indirect: true`.
 * @returns The complete chain, or `null` if the ring broke.
 * @throws {GuestMemoryError} Never: the table is checked to lie inside RAM before it is read.
 * @throws {ConformanceError} When the log is strict and a rule is broken.
 */
export function readIndirectTable(
  ring: SplitDeviceRing,
  chain: DescriptorChain,
): DescriptorChain | null {
  const { index: desc, addr: table, len: tableLen, flags: descFlags } = ring.indirectDesc;
  const head = chain.head;
  const memory = ring.memory;
  if (!ring.indirect) {
    return breakDeviceRing(
      ring,
      "2.7.5.3.1/1",
      `Descriptor ${desc} has VIRTQ_DESC_F_INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated`,
      { head, desc, flags: descFlags },
    );
  }
  if ((descFlags & VIRTQ_DESC_F_NEXT) !== 0) {
    return breakDeviceRing(
      ring,
      "2.7.5.3.1/4",
      `Descriptor ${desc} has both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT`,
      { head, desc, flags: descFlags },
    );
  }
  if (tableLen === 0 || tableLen % VIRTQ_DESC_SIZE !== 0) {
    return breakDeviceRing(
      ring,
      "2.7.5.3/D1",
      `Indirect table of descriptor ${desc} is ${tableLen} bytes long, not a non-zero multiple of 16`,
      { head, desc, len: tableLen },
    );
  }
  const entries = tableLen / VIRTQ_DESC_SIZE;
  if (entries > ring.size) {
    return breakDeviceRing(
      ring,
      "2.7.5.3.1/3",
      `Indirect table of descriptor ${desc} holds ${entries} entries, more than the queue ` +
        `size ${ring.size}`,
      { head, desc, entries, size: ring.size },
    );
  }
  if (!memory.contains(table, tableLen)) {
    return breakDeviceRing(
      ring,
      "2.7.5/D2",
      `Indirect table of ${tableLen} bytes at ${hexAddress(table)} (descriptor ${desc}) is not ` +
        "inside guest RAM",
      { head, desc, addr: table, len: tableLen },
    );
  }

  // Copies of the direct part's lists (not `slice()` of the shared frozen
  // NO_SEGMENTS: V8 copies a frozen array on a slow path, five times slower).
  const readable: BufferSegment[] = chain.readable.length > 0 ? chain.readable.slice() : [];
  const writable: BufferSegment[] = chain.writable.length > 0 ? chain.writable.slice() : [];
  const firstReadable = readable.length;
  const firstWritable = writable.length;
  let readableLength = chain.readableLength;
  let writableLength = chain.writableLength;
  let walked = 0;
  let i = 0;
  for (;;) {
    if (walked === entries) {
      return breakDeviceRing(
        ring,
        "2.7.5.3.1/3",
        `Chain at head ${head} loops inside its indirect table of ${entries} entries`,
        { head, descriptors: walked, limit: entries, indirect: true },
      );
    }
    walked++;
    const at = table + descOffset(i);
    const addr = memory.readU64Number(at + VIRTQ_DESC_ADDR_OFFSET);
    const len = memory.readU32(at + VIRTQ_DESC_LEN_OFFSET);
    const flags = memory.readU16(at + VIRTQ_DESC_FLAGS_OFFSET);
    const next = memory.readU16(at + VIRTQ_DESC_NEXT_OFFSET);
    if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
      return breakDeviceRing(
        ring,
        "2.7.5.3.1/2",
        `Indirect table entry ${i} of chain ${head} points to another indirect table`,
        { head, entry: i, flags },
      );
    }
    if (len === 0) {
      return breakDeviceRing(
        ring,
        "2.7.5/D3",
        `Indirect table entry ${i} of chain ${head} has length 0`,
        { head, desc: i, indirect: true },
      );
    }
    if (readableLength + writableLength + len > MAX_CHAIN_BYTES) {
      return breakDeviceRing(
        ring,
        "2.7.5.2/1",
        `Chain at head ${head} is longer than 2^32 bytes in total`,
        { head, bytes: readableLength + writableLength + len },
      );
    }
    if ((flags & VIRTQ_DESC_F_WRITE) !== 0) {
      writable.push({ addr, len });
      writableLength += len;
    } else {
      if (writableLength > 0) return readableAfterWritable(ring, head, i, true);
      readable.push({ addr, len });
      readableLength += len;
    }
    if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
    if (next >= entries) {
      return breakDeviceRing(
        ring,
        "2.7.5/D1",
        `Indirect table entry ${i} of chain ${head} has next ${next}, beyond the table's ` +
          `${entries} entries`,
        { head, desc: i, next, limit: entries, indirect: true },
      );
    }
    i = next;
  }
  if (!segmentsInRam(ring, readable, head, firstReadable)) return null;
  if (!segmentsInRam(ring, writable, head, firstWritable)) return null;
  return {
    head,
    readable: readable.length > 0 ? readable : NO_SEGMENTS,
    writable: writable.length > 0 ? writable : NO_SEGMENTS,
    readableLength,
    writableLength,
    descriptorCount: chain.descriptorCount + walked,
    indirect: true,
  };
}

function readableAfterWritable(
  ring: SplitDeviceRing,
  head: number,
  desc: number,
  indirect: boolean,
): null {
  const where = indirect ? `Indirect table entry ${desc}` : `Descriptor ${desc}`;
  return breakDeviceRing(
    ring,
    "2.7.4.2/1",
    `${where} of chain ${head} is device-readable but follows a device-writable one`,
    { head, desc, indirect },
  );
}

/** Checks `segments[from..]` lie inside RAM (2.7.5/D2); breaks the ring if one does not. */
function segmentsInRam(
  ring: SplitDeviceRing,
  segments: readonly BufferSegment[],
  head: number,
  from = 0,
): boolean {
  for (let k = from; k < segments.length; k++) {
    const { addr, len } = segments[k];
    if (!ring.memory.contains(addr, len)) {
      breakDeviceRing(
        ring,
        "2.7.5/D2",
        `Buffer of ${len} byte(s) at ${hexAddress(addr)} in chain ${head} is not inside guest RAM`,
        { head, addr, len },
      );
      return false;
    }
  }
  return true;
}
