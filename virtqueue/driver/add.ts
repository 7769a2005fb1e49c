/**
 * The driver placing a chain in the descriptor table (virtio v1.2 §2.7.13.1,
 * Linux's `virtqueue_add_split`): take descriptors from the shadow free
 * list, write them device-readable first (2.7.4.2/1), link them with
 * `VIRTQ_DESC_F_NEXT`, and remember the chain in the shadow. Or, with
 * `VIRTIO_F_INDIRECT_DESC`, write the chain into an indirect table and take
 * one descriptor that points to it (§2.7.5.3).
 *
 * {@linkcode addBuffers} chooses between the two, falling back to direct
 * descriptors when a table cannot be allocated.
 *
 * Placing a chain does not make it available: the queue class then calls
 * `placeAvailEntry` and, when the caller kicks, `publishAvail`.
 *
 * @module
 */

import type { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestOutOfMemoryError } from "../../memory/allocator.ts";
import { hexAddress } from "../../memory/guest_memory.ts";
import * as constants from "../constants.ts";
import * as layout from "../layout.ts";
import { type BufferSegment, VirtqueueChainError, VirtqueueFullError } from "../types.ts";
import * as driverRing from "./ring.ts";
import type { SplitDriverRing } from "./ring.ts";

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
const { HEAD_ADDED, NO_INDIRECT_TABLE } = driverRing;

/** Largest total length of one chain, in bytes (2.7.5.2/1). */
const MAX_CHAIN_BYTES = 2 ** 32;
/** Largest `len` one descriptor can carry (le32). */
const MAX_DESC_LEN = 0xffff_ffff;

/**
 * Places a chain in the descriptor table from the shadow free list: the
 * first `n` free descriptors (`n` = number of buffers), in free-list order,
 * so that the shadow `next` links double as the chain's links. Each gets
 * `addr` and `len` of its buffer, `VIRTQ_DESC_F_WRITE` if device-writable,
 * and `VIRTQ_DESC_F_NEXT` with `next` on all but the last.
 *
 * Before any store the chain is checked, and refused with a
 * `VirtqueueChainError` that names the rule: no buffers, a length that is
 * not 1 to 2^32 - 1 (0 is 2.7.5/D3), more than 2^32 bytes in total
 * (2.7.5.2/1), more buffers than Queue Size (2.7.5.3.1/3), or a buffer not
 * inside guest RAM (2.7.5/D2).
 *
 * Afterwards `ring.freeHead`, `numFree` and `inFlight` have moved, and the
 * shadow holds the chain: `state[head] = HEAD_ADDED`, its token, descriptor
 * count and writable bytes. The available ring is not touched.
 *
 * @param ring The driver ring (not broken).
 * @param readable Device-readable buffers, in order (placed first).
 * @param writable Device-writable buffers, in order.
 * @param token What `getBuf` hands back when the device returns the chain.
 * @returns The head: the descriptor index to put in the available ring.
 * @throws {VirtqueueChainError} When the chain breaks a rule (nothing changed).
 * @throws {VirtqueueFullError} When fewer than `n` descriptors are free (nothing changed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { createSplitDriverRing } from "./ring.ts";
 * import { addChain } from "./add.ts";
 *
 * const memory = new GuestMemory(0x8000);
 * const ring = createSplitDriverRing<string>({
 *   memory, index: 0, size: 4, eventIdx: false, indirect: false,
 *   descAddr: 0x0, availAddr: 0x1000, usedAddr: 0x2000,
 *   reporter: new ConformanceLog().scoped("queue 0"),
 * });
 * const head = addChain(ring, [{ addr: 0x4000, len: 16 }], [{ addr: 0x5000, len: 512 }], "read");
 * assert.equal(head, 0);
 * assert.equal(memory.readU16(0x0 + 12), 1); // descriptor 0: VIRTQ_DESC_F_NEXT
 * assert.equal(memory.readU16(0x0 + 14), 1); // next = 1
 * assert.equal(memory.readU16(0x10 + 12), 2); // descriptor 1: VIRTQ_DESC_F_WRITE
 * assert.equal(ring.numFree, 2);
 * ```
 */
export function addChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): number {
  const writableBytes = checkChain(ring, readable, writable);
  const nr = readable.length;
  const n = nr + writable.length;
  if (ring.numFree < n) tooFewFree(ring, n);
  const memory = ring.memory;
  const table = ring.descAddr;
  const next = ring.next;
  const head = ring.freeHead;
  // Device-readable buffers first (2.7.4.2/1); each descriptor takes the
  // next one on the free list, so the shadow links are the chain's links.
  let i = head;
  for (let k = 0; k < n; k++) {
    const seg = k < nr ? readable[k] : writable[k - nr];
    const following = next[i];
    const at = table + descOffset(i);
    memory.writeU64(at + VIRTQ_DESC_ADDR_OFFSET, seg.addr);
    memory.writeU32(at + VIRTQ_DESC_LEN_OFFSET, seg.len);
    const last = k === n - 1;
    memory.writeU16(
      at + VIRTQ_DESC_FLAGS_OFFSET,
      (k < nr ? 0 : VIRTQ_DESC_F_WRITE) | (last ? 0 : VIRTQ_DESC_F_NEXT),
    );
    memory.writeU16(at + VIRTQ_DESC_NEXT_OFFSET, last ? 0 : following);
    i = following;
  }
  ring.freeHead = i;
  ring.numFree -= n;
  recordChain(ring, head, token, n, writableBytes, NO_INDIRECT_TABLE);
  return head;
}

/** The chain needs more descriptors than are free. */
function tooFewFree(ring: SplitDriverRing<unknown>, needed: number): never {
  throw new VirtqueueFullError(needed, ring.numFree);
}

/**
 * Places a chain in an indirect table (§2.7.5.3) and takes one descriptor of
 * the ring for it: the table's entries are written as `addChain` would write
 * the chain (`next = k + 1`, readable first), then the head descriptor gets
 * the table's address, `len = 16 * n` and `VIRTQ_DESC_F_INDIRECT` alone
 * (never with `VIRTQ_DESC_F_NEXT`, 2.7.5.3.1/4; `VIRTQ_DESC_F_WRITE` would
 * mean nothing, 2.7.5.3.2/1).
 *
 * The chain is checked as by `addChain`, and refused when
 * `VIRTIO_F_INDIRECT_DESC` was not negotiated (2.7.5.3.1/1) or no
 * descriptor is free, all before `allocTable` is called; after it returns
 * nothing can fail. The shadow records the table in `tables[head]`, so that
 * `detachChain` frees it.
 *
 * @param ring The driver ring (not broken).
 * @param readable Device-readable buffers, in order.
 * @param writable Device-writable buffers, in order.
 * @param token What `getBuf` hands back when the device returns the chain.
 * @param allocTable Allocates `bytes` of guest memory aligned to 16 bytes
 *   for the table and returns its guest-physical address.
 * @returns The head: the descriptor index to put in the available ring.
 * @throws {VirtqueueChainError} When the chain breaks a rule (nothing changed).
 * @throws {VirtqueueFullError} When no descriptor is free (nothing changed).
 * @throws {unknown} Whatever `allocTable` throws, such as `GuestOutOfMemoryError` (nothing changed).
 */
export function addIndirectChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  allocTable: (bytes: number) => number,
): number {
  const writableBytes = checkChain(ring, readable, writable);
  if (!ring.indirect) {
    throw new VirtqueueChainError(
      "2.7.5.3.1/1",
      -1,
      "Indirect table asked for, but VIRTIO_F_INDIRECT_DESC was not negotiated",
    );
  }
  if (ring.numFree < 1) tooFewFree(ring, 1);
  const nr = readable.length;
  const n = nr + writable.length;
  const table = allocTable(VIRTQ_DESC_SIZE * n);
  const memory = ring.memory;
  for (let k = 0; k < n; k++) {
    const seg = k < nr ? readable[k] : writable[k - nr];
    const last = k === n - 1;
    const flags = (k < nr ? 0 : VIRTQ_DESC_F_WRITE) | (last ? 0 : VIRTQ_DESC_F_NEXT);
    writeDesc(memory, table + descOffset(k), seg.addr, seg.len, flags, last ? 0 : k + 1);
  }
  const head = ring.freeHead;
  writeDesc(
    memory,
    ring.descAddr + descOffset(head),
    table,
    VIRTQ_DESC_SIZE * n,
    VIRTQ_DESC_F_INDIRECT,
    0,
  );
  ring.freeHead = ring.next[head];
  ring.numFree -= 1;
  recordChain(ring, head, token, 1, writableBytes, table);
  return head;
}

/**
 * Checks a chain before any store (see `addChain` for the rules): one pass
 * that only tells whether everything is right, and, when something is not,
 * {@linkcode refuseChain} to find the first rule broken and throw.
 *
 * @returns The chain's device-writable bytes.
 * @throws {VirtqueueChainError} When a rule is broken.
 */
function checkChain(
  ring: SplitDriverRing<unknown>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
): number {
  const memory = ring.memory;
  const nr = readable.length;
  const nw = writable.length;
  let bad = nr + nw === 0 || nr + nw > ring.size;
  let total = 0;
  for (let k = 0; k < nr; k++) {
    const seg = readable[k];
    bad ||= !bufferOk(memory, seg);
    total += seg.len;
  }
  let writableBytes = 0;
  for (let k = 0; k < nw; k++) {
    const seg = writable[k];
    bad ||= !bufferOk(memory, seg);
    writableBytes += seg.len;
  }
  if (bad || total + writableBytes > MAX_CHAIN_BYTES) refuseChain(ring, readable, writable);
  return writableBytes;
}

/**
 * Whether one descriptor can carry `seg`: a length from 1 to 2^32 - 1
 * (`(len >>> 0) === len` holds exactly for the whole numbers below 2^32),
 * inside guest RAM.
 */
function bufferOk(memory: GuestMemory, seg: BufferSegment): boolean {
  const len = seg.len;
  return (len >>> 0) === len && len !== 0 && memory.contains(seg.addr, len);
}

/**
 * Throws the {@linkcode VirtqueueChainError} for the first rule the chain
 * breaks, in this order: no buffers; shape (each length, the total, the
 * count); then whether every buffer lies in RAM.
 */
function refuseChain(
  ring: SplitDriverRing<unknown>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
): never {
  const segments = [...readable, ...writable];
  const n = segments.length;
  if (n === 0) throw new VirtqueueChainError(null, -1, "A chain needs at least one buffer");
  let total = 0;
  for (let k = 0; k < n; k++) {
    const len = segments[k].len;
    if (!(Number.isInteger(len) && len >= 1 && len <= MAX_DESC_LEN)) {
      throw new VirtqueueChainError(
        len === 0 ? "2.7.5/D3" : null,
        k,
        `Buffer ${k} has length ${len}; a descriptor holds 1 to ${MAX_DESC_LEN} bytes`,
      );
    }
    total += len;
  }
  if (total > MAX_CHAIN_BYTES) {
    throw new VirtqueueChainError(
      "2.7.5.2/1",
      -1,
      `Chain of ${total} bytes is longer than 2^32 bytes`,
    );
  }
  if (n > ring.size) {
    throw new VirtqueueChainError(
      "2.7.5.3.1/3",
      -1,
      `Chain of ${n} buffers is longer than the queue size ${ring.size}`,
    );
  }
  for (let k = 0; k < n; k++) {
    const seg = segments[k];
    if (!ring.memory.contains(seg.addr, seg.len)) {
      throw new VirtqueueChainError(
        "2.7.5/D2",
        k,
        `Buffer ${k} of ${seg.len} byte(s) at ${hexAddress(seg.addr)} is not inside guest RAM`,
      );
    }
  }
  // The fast pass refused something the rules allow: a bug here, not the caller's.
  throw new Error("checkChain refused a chain that breaks no rule");
}

/** Records a placed chain in the shadow. */
function recordChain<T>(
  ring: SplitDriverRing<T>,
  head: number,
  token: T,
  count: number,
  writableBytes: number,
  table: number,
): void {
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = count;
  ring.writable[head] = writableBytes;
  ring.tables[head] = table;
  ring.inFlight++;
}

/**
 * Writes one descriptor (`struct virtq_desc`) field by field, through the
 * memory's accessors.
 */
function writeDesc(
  memory: GuestMemory,
  at: number,
  addr: number,
  len: number,
  flags: number,
  next: number,
): void {
  memory.writeU64(at + VIRTQ_DESC_ADDR_OFFSET, addr);
  memory.writeU32(at + VIRTQ_DESC_LEN_OFFSET, len);
  memory.writeU16(at + VIRTQ_DESC_FLAGS_OFFSET, flags);
  memory.writeU16(at + VIRTQ_DESC_NEXT_OFFSET, next);
}

/**
 * How {@linkcode addBuffers} places a chain: `"auto"` chooses, `"always"`
 * insists on an indirect table, `"never"` uses direct descriptors only.
 */
export type IndirectPolicy = "auto" | "always" | "never";

/**
 * The steps {@linkcode addBuffers} chooses between, and the allocator it
 * hands to the indirect one: the queue class passes its own parts table's
 * `addChain` and `addIndirectChain` (each may be a learner's).
 */
export interface AddBufferSteps {
  /** Places the chain in direct descriptors (the `addChain` part). */
  readonly addChain: typeof addChain;
  /** Places the chain in an indirect table (the `addIndirectChain` part). */
  readonly addIndirectChain: typeof addIndirectChain;
  /**
   * Allocates a 16-byte aligned table of `bytes` and returns its address;
   * throws `GuestOutOfMemoryError` when it does not fit. `undefined` when
   * the queue has no allocator for tables.
   */
  readonly allocTable?: (bytes: number) => number;
}

/**
 * Chooses how a chain of `n = readable.length + writable.length` buffers
 * goes into the ring and places it with one of `steps` (Linux's
 * `virtqueue_add_split`: `virtqueue_use_indirect`, then direct descriptors
 * when `alloc_indirect_split` fails):
 *
 * | `policy` | what it does |
 * | --- | --- |
 * | `"never"` | `steps.addChain` |
 * | `"always"` | `steps.addIndirectChain`, errors passed on; a `TypeError` first when `steps.allocTable` is `undefined` |
 * | `"auto"` | an indirect table when `ring.indirect`, `steps.allocTable` is given and `n >= 2`; else `steps.addChain` |
 *
 * With `"auto"`, a table that cannot be allocated (`addIndirectChain`
 * throws `GuestOutOfMemoryError`, which leaves the ring unchanged) falls
 * back to `steps.addChain`: one table fewer is no reason to fail a request
 * that fits in the ring. Every other error, from either step, is passed on
 * as thrown, and no step is called twice.
 *
 * @param ring The driver ring (not broken).
 * @param readable Device-readable buffers, in order.
 * @param writable Device-writable buffers, in order.
 * @param token What `getBuf` hands back when the device returns the chain.
 * @param policy Direct descriptors, an indirect table, or the choice above.
 * @param steps The two placing steps and the table allocator.
 * @returns The head the step returned: the descriptor index for the available ring.
 * @throws {VirtqueueChainError} From a step, when the chain breaks a rule (nothing changed).
 * @throws {VirtqueueFullError} From a step, when too few descriptors are free (nothing changed).
 * @throws {GuestOutOfMemoryError} With `"always"`, when the table does not fit (nothing changed).
 * @throws {TypeError} With `"always"` and no `steps.allocTable`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { GuestAllocator } from "../../memory/allocator.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { createSplitDriverRing } from "./ring.ts";
 * import { addBuffers, addChain, addIndirectChain } from "./add.ts";
 *
 * const memory = new GuestMemory(0x8000);
 * const allocator = new GuestAllocator(memory, { start: 0x4000 });
 * const ring = createSplitDriverRing<string>({
 *   memory, index: 0, size: 4, eventIdx: false, indirect: true,
 *   descAddr: 0x0, availAddr: 0x1000, usedAddr: 0x2000,
 *   reporter: new ConformanceLog().scoped("queue 0"),
 * });
 * const steps = { addChain, addIndirectChain, allocTable: (n: number) => allocator.alloc(n, 16) };
 * const r = [{ addr: 0x6000, len: 16 }];
 * const w = [{ addr: 0x7000, len: 512 }, { addr: 0x7200, len: 1 }];
 * const head = addBuffers(ring, r, w, "read", "auto", steps);
 * assert.equal(ring.numFree, 3); // one descriptor of the ring for three buffers
 * assert.equal(memory.readU16(0x0 + 16 * head + 12), 4); // VIRTQ_DESC_F_INDIRECT
 * assert.equal(memory.readU32(0x0 + 16 * head + 8), 48); // a table of 3 entries
 * ```
 */
export function addBuffers<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  policy: IndirectPolicy,
  steps: AddBufferSteps,
): number {
  if (policy === "never") return steps.addChain(ring, readable, writable, token);
  const allocTable = steps.allocTable;
  if (policy === "always") {
    if (allocTable === undefined) {
      throw new TypeError(`Queue ${ring.index} has no allocator for an indirect table`);
    }
    return steps.addIndirectChain(ring, readable, writable, token, allocTable);
  }
  if (!ring.indirect || allocTable === undefined || readable.length + writable.length < 2) {
    return steps.addChain(ring, readable, writable, token);
  }
  try {
    return steps.addIndirectChain(ring, readable, writable, token, allocTable);
  } catch (e) {
    if (!(e instanceof GuestOutOfMemoryError)) throw e;
  }
  return steps.addChain(ring, readable, writable, token);
}
