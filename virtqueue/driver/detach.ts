/**
 * The driver taking a chain back from the device (Linux's
 * `detach_buf_split`): its descriptors return to the free list and its
 * indirect table, if any, to the allocator.
 *
 * @module
 */

import * as driverRing from "./ring.ts";
import type { SplitDriverRing } from "./ring.ts";

// The names the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const { HEAD_FREE, NO_INDIRECT_TABLE } = driverRing;

/**
 * Releases the chain at `head` using only the shadow, never the descriptor
 * table in guest memory: a device may have scribbled over its `flags` and
 * `next` fields, and a driver that followed them would free the wrong
 * descriptors (xv6-riscv `aeaf610`, MigTD #251).
 *
 * The order of the steps matters:
 *
 * 1. the chain's metadata (token, descriptor count, indirect table) is read
 *    into locals and cleared: `state[head]` becomes `HEAD_FREE`;
 * 2. only then do its `count[head]` descriptors, followed through the shadow
 *    `next` links, go to the front of the free list (`numFree`,
 *    `inFlight` move);
 * 3. last, `freeTable` gets the indirect table, if the chain had one.
 *
 * A descriptor back on the free list may be taken at once by an `addChain`
 * that runs inside `freeTable` (or, on a real machine, on another CPU);
 * clearing the metadata after step 2 would wipe the new chain's (the NetBSD
 * `vring_desc_extra` race).
 *
 * @param ring The driver ring.
 * @param head Head of a posted chain (`state[head]` is not `HEAD_FREE`).
 * @param freeTable Gives an indirect table back to the allocator.
 * @returns The token the chain was added with.
 * @throws {unknown} Whatever `freeTable` throws; the shadow is consistent by then
 *   (the chain is already back on the free list).
 */
export function detachChain<T>(
  ring: SplitDriverRing<T>,
  head: number,
  freeTable: (table: number) => void,
): T {
  const token = ring.tokens[head] as T;
  const count = ring.count[head];
  const table = ring.tables[head];
  ring.state[head] = HEAD_FREE;
  ring.tokens[head] = undefined;
  ring.count[head] = 0;
  ring.writable[head] = 0;
  ring.tables[head] = NO_INDIRECT_TABLE;

  const next = ring.next;
  let tail = head;
  for (let k = count - 1; k > 0; k--) tail = next[tail];
  next[tail] = ring.freeHead;
  ring.freeHead = head;
  ring.numFree += count;
  ring.inFlight--;

  if (table !== NO_INDIRECT_TABLE) freeTable(table);
  return token;
}
