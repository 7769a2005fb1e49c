// Mistake: detachChain puts the descriptors back and frees the indirect table
// first, and only then tidies the head's record; by then freeTable (on a real
// machine, another CPU) may have placed a new chain at that head, whose token
// and state it wipes.
// Source: NetBSD sys/dev/pci/virtio.c, "change members of struct vring_desc_extra before free a slot" (netbsd-10 ticket #186).
// Must fail: "freeTable comes last: a chain it places at the freed head keeps its record" [2.7.13.1/D2]

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
  let tail = head;
  for (let k = 1; k < ring.count[head]; k++) tail = ring.next[tail];
  ring.next[tail] = ring.freeHead;
  ring.freeHead = head;
  ring.numFree += ring.count[head];
  ring.inFlight--;
  if (ring.tables[head] !== NO_INDIRECT_TABLE) freeTable(ring.tables[head]);
  const token = ring.tokens[head] as T;
  ring.tokens[head] = undefined;
  ring.state[head] = HEAD_FREE;
  ring.tables[head] = NO_INDIRECT_TABLE;
  return token;
}
