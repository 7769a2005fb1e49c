// Mistake: detachChain puts only the head back on the free list, as if every
// chain were one descriptor: the rest of a longer chain is never free again,
// and the queue runs dry after a few requests.
// Source: none.
// Must fail: "detachChain frees the chain's descriptors and gives its token back" [2.7.13.1/D2]

import {
  HEAD_FREE,
  NO_INDIRECT_TABLE,
  type SplitDriverRing,
} from "../../../../virtqueue/driver/ring.ts";

export { addChain, readChain, writeChain } from "../correct/free_list_walk.ts";

export function detachChain<T>(
  ring: SplitDriverRing<T>,
  head: number,
  freeTable: (table: number) => void,
): T {
  const token = ring.tokens[head] as T;
  const table = ring.tables[head];
  ring.state[head] = HEAD_FREE;
  ring.tokens[head] = undefined;
  ring.next[head] = ring.freeHead;
  ring.freeHead = head;
  ring.numFree += 1;
  ring.inFlight--;
  if (table !== NO_INDIRECT_TABLE) freeTable(table);
  return token;
}
