// Mistake: to find the chain's last descriptor, detachChain follows next
// count times instead of count - 1: it links the free list onto the
// descriptor after the chain, and loses or doubles part of the list.
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
  const count = ring.count[head];
  const table = ring.tables[head];
  ring.state[head] = HEAD_FREE;
  ring.tokens[head] = undefined;
  let tail = head;
  for (let k = 0; k < count; k++) tail = ring.next[tail];
  ring.next[tail] = ring.freeHead;
  ring.freeHead = head;
  ring.numFree += count;
  ring.inFlight--;
  if (table !== NO_INDIRECT_TABLE) freeTable(table);
  return token;
}
