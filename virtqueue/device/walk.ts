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
import * as constants from "../constants.ts";
import * as layout from "../layout.ts";
import type { BufferSegment, DescriptorChain } from "../types.ts";
import * as deviceRing from "./ring.ts";
import { breakDeviceRing, type SegmentRecord, type SplitDeviceRing } from "./ring.ts";

// The names the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_SIZE } = constants;
const {
  descOffset,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
} = layout;
const { chainRecord } = deviceRing;

/** Largest total length of one chain, in bytes (2.7.5.2/1). */
const MAX_CHAIN_BYTES = 2 ** 32;

/**
 * An empty, frozen segment list, for chains built by hand (tests, learners'
 * walkers) that have no readable or no writable buffers. The reference walk
 * gives every chain record its own lists instead.
 */
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
 * The chain returned is the ring's record for `head` (`ring.chains[head]`,
 * see `DeviceChainRecord`), refilled in place: the next walk of the same
 * head overwrites it, so it stays valid while the chain is in flight (a head
 * cannot be walked again before it is pushed, 2.7.6/D2) and a caller that
 * wants it afterwards copies it.
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
  const chain = chainRecord(ring, head);
  const readable = chain.readable;
  const writable = chain.writable;
  let nr = 0;
  let nw = 0;
  let total = 0;
  let writableLength = 0;
  let inRam = true;
  let count = 0;
  let indirect = false;
  let i = head;
  for (;;) {
    // Only `size` distinct descriptors exist: one more means a loop (which
    // 2.7.5.2/1 also rules out) or a chain over the limit.
    if (count === size) return chainLoops(ring, head, count, false);
    count++;
    const at = ring.descAddr + descOffset(i);
    const addr = memory.readU64Number(at + VIRTQ_DESC_ADDR_OFFSET);
    const len = memory.readU32(at + VIRTQ_DESC_LEN_OFFSET);
    const flags = memory.readU16(at + VIRTQ_DESC_FLAGS_OFFSET);
    const next = memory.readU16(at + VIRTQ_DESC_NEXT_OFFSET);
    if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
      stopAtIndirect(ring, i, addr, len, flags);
      indirect = true;
      break;
    }
    const write = (flags & VIRTQ_DESC_F_WRITE) !== 0;
    const more = (flags & VIRTQ_DESC_F_NEXT) !== 0;
    // One test for every rule a direct descriptor can break (badDescriptor
    // tells which); whether its buffer is in RAM is decided after the walk.
    if (
      len === 0 || total + len > MAX_CHAIN_BYTES || (!write && writableLength > 0) ||
      (more && next >= size)
    ) {
      return badDescriptor(ring, head, i, len, flags, next, total, writableLength, size, false);
    }
    inRam = inRam && memory.contains(addr, len);
    total += len;
    if (write) {
      setSegment(writable, nw++, addr, len);
      writableLength += len;
    } else {
      setSegment(readable, nr++, addr, len);
    }
    if (!more) break;
    i = next;
  }
  if (readable.length !== nr) readable.length = nr;
  if (writable.length !== nw) writable.length = nw;
  if (!inRam) return bufferOutsideRam(ring, chain, 0, 0);
  chain.head = head;
  chain.readableLength = total - writableLength;
  chain.writableLength = writableLength;
  chain.descriptorCount = count;
  chain.indirect = indirect;
  return chain;
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
 * | 2.7.5.3.1/3 | the table holds more than Queue Size entries, its walk loops, or the direct buffers and the entries walked are more than Queue Size descriptors together |
 * | 2.7.5/D2 | the table or one of its buffers is not inside guest RAM |
 * | 2.7.5.3.1/2 | an entry of the table is itself indirect |
 * | 2.7.5/D1 | an entry's `next` is beyond the table |
 * | 2.7.5/D3, 2.7.5.2/1, 2.7.4.2/1 | as in a direct chain, counted over the whole chain |
 *
 * The `VIRTQ_DESC_F_WRITE` flag of the pointing descriptor means nothing
 * (2.7.5.3.2/1): the table's entries say which buffers are writable. The
 * chain may hold direct descriptors before the indirect one (2.7.5.3.2/2).
 *
 * The chain returned is the ring's record for `chain.head`, as with
 * {@linkcode walkChain}: when `chain` is that record (the reference walk's
 * result) the table's buffers are appended to it in place; a chain from
 * another walker is copied into the record first and is not changed.
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
  const size = ring.size;
  if (!ring.indirect) return indirectNotNegotiated(ring, head, desc, descFlags);
  if ((descFlags & VIRTQ_DESC_F_NEXT) !== 0) return indirectWithNext(ring, head, desc, descFlags);
  if (tableLen === 0 || tableLen % VIRTQ_DESC_SIZE !== 0) {
    return badTableLength(ring, head, desc, tableLen);
  }
  const entries = tableLen / VIRTQ_DESC_SIZE;
  if (entries > size) return tableTooLarge(ring, head, desc, entries);
  if (!memory.contains(table, tableLen)) return tableOutsideRam(ring, head, desc, table, tableLen);

  const record = chainRecord(ring, head);
  const readable = record.readable;
  const writable = record.writable;
  if (record !== chain) {
    copySegments(chain.readable, readable);
    copySegments(chain.writable, writable);
  }
  const firstReadable = readable.length;
  const firstWritable = writable.length;
  let nr = firstReadable;
  let nw = firstWritable;
  let total = chain.readableLength + chain.writableLength;
  let writableLength = chain.writableLength;
  let inRam = true;
  // 2.7.5.3.1/3 bounds the whole chain: the direct buffers before the
  // indirect descriptor (which stands for its table and is not counted) and
  // the entries walked together hold at most Queue Size descriptors. The
  // walk stops at the first entry past that bound, or, when the table is
  // smaller than it, at an entry met twice (a loop).
  const direct = chain.descriptorCount - 1;
  const limit = Math.max(0, Math.min(entries, size - direct));
  let walked = 0;
  let i = 0;
  for (;;) {
    if (walked === limit) {
      return walked === entries
        ? chainLoops(ring, head, walked, true)
        : chainTooLong(ring, head, direct, size);
    }
    walked++;
    const at = table + descOffset(i);
    const addr = memory.readU64Number(at + VIRTQ_DESC_ADDR_OFFSET);
    const len = memory.readU32(at + VIRTQ_DESC_LEN_OFFSET);
    const flags = memory.readU16(at + VIRTQ_DESC_FLAGS_OFFSET);
    const next = memory.readU16(at + VIRTQ_DESC_NEXT_OFFSET);
    if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) return nestedTable(ring, head, i, flags);
    const write = (flags & VIRTQ_DESC_F_WRITE) !== 0;
    const more = (flags & VIRTQ_DESC_F_NEXT) !== 0;
    if (
      len === 0 || total + len > MAX_CHAIN_BYTES || (!write && writableLength > 0) ||
      (more && next >= entries)
    ) {
      return badDescriptor(ring, head, i, len, flags, next, total, writableLength, entries, true);
    }
    inRam = inRam && memory.contains(addr, len);
    total += len;
    if (write) {
      setSegment(writable, nw++, addr, len);
      writableLength += len;
    } else {
      setSegment(readable, nr++, addr, len);
    }
    if (!more) break;
    i = next;
  }
  if (readable.length !== nr) readable.length = nr;
  if (writable.length !== nw) writable.length = nw;
  if (!inRam) return bufferOutsideRam(ring, record, firstReadable, firstWritable);
  record.head = head;
  record.readableLength = total - writableLength;
  record.writableLength = writableLength;
  record.descriptorCount = chain.descriptorCount + walked;
  record.indirect = true;
  return record;
}

/**
 * Makes `segments[k]` the buffer `[addr, addr + len)`: the segment object
 * already there is refilled, and only a list that grows gets a new one.
 */
function setSegment(segments: SegmentRecord[], k: number, addr: number, len: number): void {
  if (k < segments.length) {
    const segment = segments[k];
    segment.addr = addr;
    segment.len = len;
  } else {
    segments.push({ addr, len });
  }
}

/** Copies a segment list into a record's list (another walker's chain into the ring's record). */
function copySegments(from: readonly BufferSegment[], to: SegmentRecord[]): void {
  for (let k = 0; k < from.length; k++) setSegment(to, k, from[k].addr, from[k].len);
  if (to.length !== from.length) to.length = from.length;
}

// The ways a walk breaks the ring: each builds its message and reports it
// only when it happens, so that the walks stay small enough to inline.

/** Records the indirect descriptor a walk stopped at, as read (`ring.indirectDesc`). */
function stopAtIndirect(
  ring: SplitDeviceRing,
  index: number,
  addr: number,
  len: number,
  flags: number,
): void {
  const d = ring.indirectDesc;
  d.index = index;
  d.addr = addr;
  d.len = len;
  d.flags = flags;
}

function chainLoops(ring: SplitDeviceRing, head: number, count: number, indirect: boolean): null {
  return indirect
    ? breakDeviceRing(
      ring,
      "2.7.5.3.1/3",
      `Chain at head ${head} loops inside its indirect table of ${count} entries`,
      { head, descriptors: count, limit: count, indirect: true },
    )
    : breakDeviceRing(
      ring,
      "2.7.5.3.1/3",
      `Chain at head ${head} is longer than the queue size ${count}: it loops`,
      { head, descriptors: count, limit: count, indirect: false },
    );
}

/**
 * Breaks the ring for a chain whose `direct` buffers before its indirect
 * descriptor and the entries of its table are more than Queue Size `size`
 * descriptors together (2.7.5.3.1/3).
 */
function chainTooLong(ring: SplitDeviceRing, head: number, direct: number, size: number): null {
  return breakDeviceRing(
    ring,
    "2.7.5.3.1/3",
    `Chain at head ${head} is longer than the queue size ${size}: ${direct} direct ` +
      `descriptor(s) and more than ${size - direct} entries of its indirect table`,
    { head, direct, entries: size - direct + 1, limit: size, indirect: true },
  );
}

/**
 * Breaks the ring for the first rule descriptor `desc` of the chain at
 * `head` breaks, in this order: a zero length (2.7.5/D3), a chain longer
 * than 2^32 bytes with it (2.7.5.2/1), device-readable after
 * device-writable (2.7.4.2/1), a `next` beyond `limit` entries (2.7.5/D1).
 * `total` and `writableLength` are the chain's bytes before it.
 */
function badDescriptor(
  ring: SplitDeviceRing,
  head: number,
  desc: number,
  len: number,
  flags: number,
  next: number,
  total: number,
  writableLength: number,
  limit: number,
  indirect: boolean,
): null {
  const where = indirect ? `Indirect table entry ${desc}` : `Descriptor ${desc}`;
  if (len === 0) {
    return breakDeviceRing(ring, "2.7.5/D3", `${where} of chain ${head} has length 0`, {
      head,
      desc,
      indirect,
    });
  }
  if (total + len > MAX_CHAIN_BYTES) {
    return breakDeviceRing(
      ring,
      "2.7.5.2/1",
      `Chain at head ${head} is longer than 2^32 bytes in total`,
      { head, bytes: total + len },
    );
  }
  if ((flags & VIRTQ_DESC_F_WRITE) === 0 && writableLength > 0) {
    return breakDeviceRing(
      ring,
      "2.7.4.2/1",
      `${where} of chain ${head} is device-readable but follows a device-writable one`,
      { head, desc, indirect },
    );
  }
  return breakDeviceRing(
    ring,
    "2.7.5/D1",
    indirect
      ? `${where} of chain ${head} has next ${next}, beyond the table's ${limit} entries`
      : `${where} of chain ${head} has next ${next}, beyond the queue size ${limit}`,
    { head, desc, next, limit, indirect },
  );
}

/**
 * Breaks the ring for the first buffer of `chain` outside guest RAM
 * (2.7.5/D2): readable ones from `firstReadable` on, then writable ones from
 * `firstWritable` on.
 */
function bufferOutsideRam(
  ring: SplitDeviceRing,
  chain: DescriptorChain,
  firstReadable: number,
  firstWritable: number,
): null {
  const memory = ring.memory;
  const lists = [chain.readable.slice(firstReadable), chain.writable.slice(firstWritable)];
  for (const { addr, len } of lists.flat()) {
    if (!memory.contains(addr, len)) {
      return breakDeviceRing(
        ring,
        "2.7.5/D2",
        `Buffer of ${len} byte(s) at ${hexAddress(addr)} in chain ${chain.head} is not ` +
          "inside guest RAM",
        { head: chain.head, addr, len },
      );
    }
  }
  // The walk found a buffer outside RAM that is no longer there: a bug here.
  throw new Error(`No buffer of chain ${chain.head} lies outside RAM`);
}

function indirectNotNegotiated(
  ring: SplitDeviceRing,
  head: number,
  desc: number,
  flags: number,
): null {
  return breakDeviceRing(
    ring,
    "2.7.5.3.1/1",
    `Descriptor ${desc} has VIRTQ_DESC_F_INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated`,
    { head, desc, flags },
  );
}

function indirectWithNext(ring: SplitDeviceRing, head: number, desc: number, flags: number): null {
  return breakDeviceRing(
    ring,
    "2.7.5.3.1/4",
    `Descriptor ${desc} has both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT`,
    { head, desc, flags },
  );
}

function badTableLength(ring: SplitDeviceRing, head: number, desc: number, len: number): null {
  return breakDeviceRing(
    ring,
    "2.7.5.3/D1",
    `Indirect table of descriptor ${desc} is ${len} bytes long, not a non-zero multiple of 16`,
    { head, desc, len },
  );
}

function tableTooLarge(ring: SplitDeviceRing, head: number, desc: number, entries: number): null {
  return breakDeviceRing(
    ring,
    "2.7.5.3.1/3",
    `Indirect table of descriptor ${desc} holds ${entries} entries, more than the queue ` +
      `size ${ring.size}`,
    { head, desc, entries, size: ring.size },
  );
}

function tableOutsideRam(
  ring: SplitDeviceRing,
  head: number,
  desc: number,
  addr: number,
  len: number,
): null {
  return breakDeviceRing(
    ring,
    "2.7.5/D2",
    `Indirect table of ${len} bytes at ${hexAddress(addr)} (descriptor ${desc}) is not ` +
      "inside guest RAM",
    { head, desc, addr, len },
  );
}

function nestedTable(ring: SplitDeviceRing, head: number, entry: number, flags: number): null {
  return breakDeviceRing(
    ring,
    "2.7.5.3.1/2",
    `Indirect table entry ${entry} of chain ${head} points to another indirect table`,
    { head, entry, flags },
  );
}
