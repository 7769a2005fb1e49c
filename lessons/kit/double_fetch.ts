/**
 * A double-fetch proxy: guest memory that changes under the device between
 * two reads of the same field, the way a malicious guest on another CPU
 * rewrites a descriptor while the host is validating it. A device that reads
 * a descriptor's `len` once to check it and again to use it uses a length it
 * never checked (bhyve's virtio code, FreeBSD-SA-24:17.bhyve: iov_len read
 * twice from guest memory). Reading every field exactly once, into locals, is
 * the defence; the read counts show whether a walker does.
 *
 * - {@linkcode doubleFetch}: after the first `after` loads of one address,
 *   the memory there changes to another value (stored unobserved), so any
 *   further load sees the new value.
 * - {@linkcode descriptorDoubleFetch}: the same for a descriptor's `len`.
 * - {@linkcode descriptorReads}: how many times each field of each
 *   descriptor of a table was read (a byte read twice counts twice; reading a
 *   u64 `addr` as two u32 halves counts once).
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { VIRTQ_DESC_SIZE } from "../../virtqueue/constants.ts";
import { descOffset, VIRTQ_DESC_LEN_OFFSET } from "../../virtqueue/layout.ts";
import type { RingFixture } from "./ring.ts";
import type { SnoopingMemory } from "./snoop.ts";

/** What {@linkcode doubleFetch} takes. */
export interface DoubleFetchOptions {
  /** The address of the field that changes. */
  readonly address: number;
  /** Its width in bytes. */
  readonly width: 1 | 2 | 4 | 8;
  /** The value it changes to. */
  readonly then: number | bigint;
  /** Loads of the address before it changes (default 1: it changes after the first read). */
  readonly after?: number;
}

/** A field that changes after it is read. */
export interface DoubleFetch {
  /** Loads of the address so far. */
  readonly reads: number;
  /** Whether it has changed. */
  readonly changed: boolean;
  /** Stops watching (the memory keeps whatever it holds). */
  stop(): void;
}

/**
 * Makes a field change after it is read (see the module documentation). The
 * change is stored unobserved, right after the `after`-th load returns.
 *
 * @param memory The guest memory.
 * @param options Which field, its new value, after how many loads.
 * @returns The proxy's state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnoopingMemory } from "./snoop.ts";
 * import { doubleFetch } from "./double_fetch.ts";
 *
 * const memory = new SnoopingMemory(0x100);
 * memory.writeU32(0x18, 16);
 * doubleFetch(memory, { address: 0x18, width: 4, then: 0xffff_0000 });
 * assert.equal(memory.readU32(0x18), 16); // checked...
 * assert.equal(memory.readU32(0x18), 0xffff_0000); // ...and used: not the same
 * ```
 */
export function doubleFetch(memory: SnoopingMemory, options: DoubleFetchOptions): DoubleFetch {
  const after = options.after ?? 1;
  let reads = 0;
  let changed = false;
  const stop = memory.onLoad((load) => {
    if (load.address !== options.address) return;
    reads++;
    if (changed || reads < after) return;
    changed = true;
    const { address, then } = options;
    const n = typeof then === "bigint" ? then : BigInt(then);
    switch (options.width) {
      case 1:
        memory.writeU8(address, Number(n & 0xffn));
        break;
      case 2:
        memory.writeU16(address, Number(n & 0xffffn));
        break;
      case 4:
        memory.writeU32(address, Number(n & 0xffff_ffffn));
        break;
      case 8:
        memory.writeU64(address, n);
        break;
    }
  });
  return {
    get reads() {
      return reads;
    },
    get changed() {
      return changed;
    },
    stop,
  };
}

/**
 * Makes descriptor `index`'s `len` change to `len` after its first read.
 *
 * @param f The fixture.
 * @param index The descriptor.
 * @param len The length it changes to.
 * @param table The table's address (default: the descriptor table).
 * @returns The proxy's state.
 */
export function descriptorDoubleFetch(
  f: RingFixture<unknown>,
  index: number,
  len: number,
  table: number = f.addresses.descAddr,
): DoubleFetch {
  return doubleFetch(f.memory, {
    address: table + descOffset(index) + VIRTQ_DESC_LEN_OFFSET,
    width: 4,
    then: len >>> 0,
  });
}

/** How many times a descriptor's fields were read. */
export interface FieldReads {
  /** `addr` (bytes 0 to 7). */
  readonly addr: number;
  /** `len` (bytes 8 to 11). */
  readonly len: number;
  /** `flags` (bytes 12, 13). */
  readonly flags: number;
  /** `next` (bytes 14, 15). */
  readonly next: number;
}

/** Read counts of every descriptor of a table. */
export interface DescriptorReads {
  /**
   * How many times each field of a descriptor was read so far: the most
   * loads that covered any one byte of the field.
   *
   * @param index The descriptor.
   */
  of(index: number): FieldReads;
  /** The most any one field of any descriptor was read, and where. */
  most(): { readonly index: number; readonly field: keyof FieldReads; readonly reads: number };
  /** Stops counting. */
  stop(): void;
}

/**
 * Counts the reads of every field of every descriptor of a table (see the
 * module documentation).
 *
 * @param memory The guest memory.
 * @param table The table's address (the descriptor table, or an indirect table).
 * @param entries How many descriptors it holds.
 * @returns The counts, growing as loads happen.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnoopingMemory } from "./snoop.ts";
 * import { descriptorReads } from "./double_fetch.ts";
 *
 * const memory = new SnoopingMemory(0x100);
 * const reads = descriptorReads(memory, 0, 4);
 * memory.readU32(0x10); // descriptor 1 addr, low half
 * memory.readU32(0x14); // ... high half: still one read of addr
 * memory.readU32(0x18); // len
 * memory.readU32(0x18); // len again: a double fetch
 * assert.deepEqual(reads.of(1), { addr: 1, len: 2, flags: 0, next: 0 });
 * assert.deepEqual(reads.most(), { index: 1, field: "len", reads: 2 });
 * ```
 */
export function descriptorReads(
  memory: SnoopingMemory,
  table: number,
  entries: number,
): DescriptorReads {
  const bytes = new Uint32Array(entries * VIRTQ_DESC_SIZE);
  const end = table + bytes.length;
  const stop = memory.onLoad((load) => {
    const from = Math.max(load.address, table);
    const to = Math.min(load.address + load.width, end);
    for (let a = from; a < to; a++) bytes[a - table]++;
  });
  const field = (index: number, from: number, to: number) => {
    let n = 0;
    for (let b = from; b < to; b++) n = Math.max(n, bytes[index * VIRTQ_DESC_SIZE + b]);
    return n;
  };
  const of = (index: number): FieldReads => ({
    addr: field(index, 0, 8),
    len: field(index, 8, 12),
    flags: field(index, 12, 14),
    next: field(index, 14, 16),
  });
  return {
    of,
    most() {
      let best = { index: 0, field: "addr" as keyof FieldReads, reads: 0 };
      for (let i = 0; i < entries; i++) {
        const r = of(i);
        for (const name of ["addr", "len", "flags", "next"] as const) {
          if (r[name] > best.reads) best = { index: i, field: name, reads: r[name] };
        }
      }
      return best;
    },
    stop,
  };
}
