// Mistake: detachChain gives the descriptors back but leaves the head marked
// as a chain in flight (state, token): a device that returns the same id a
// second time is believed, and the chain is freed twice.
// Source: intel/MigTD PR #986 (a replayed used id double-freed a slot).
// Must fail: "detachChain frees the chain's descriptors and gives its token back" [2.7.13.1/D2]

import { NO_INDIRECT_TABLE, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { addChain, readChain, writeChain } from "../correct/free_list_walk.ts";

export function detachChain<T>(
  ring: SplitDriverRing<T>,
  head: number,
  freeTable: (table: number) => void,
): T {
  let tail = head;
  for (let k = 1; k < ring.count[head]; k++) tail = ring.next[tail];
  ring.next[tail] = ring.freeHead;
  ring.freeHead = head;
  ring.numFree += ring.count[head];
  ring.inFlight--;
  if (ring.tables[head] !== NO_INDIRECT_TABLE) freeTable(ring.tables[head]);
  return ring.tokens[head] as T;
}
