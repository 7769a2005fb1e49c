// Mistake: detachChain frees the chain by walking it in the descriptor table,
// following VIRTQ_DESC_F_NEXT and next as they are in guest memory, after
// capturing them before each free as xv6 learned to: a device that rewrote
// the table makes it free descriptors still in use, leak others, or loop.
// Source: xv6-riscv kernel/virtio_disk.c free_chain (aeaf610); intel/MigTD #251.
// Must fail: "freeing follows the driver's record, not the descriptor table" [2.7.13.1/D2]

import { descOffset } from "../../../../virtqueue/layout.ts";
import { HEAD_FREE, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

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
  let i = head;
  for (;;) {
    const at = ring.descAddr + descOffset(i);
    const flags = ring.memory.readU16(at + 12);
    const next = ring.memory.readU16(at + 14);
    ring.next[i] = ring.freeHead;
    ring.freeHead = i;
    ring.numFree++;
    if (!(flags & 1)) break;
    i = next;
  }
  ring.inFlight--;
  if (table >= 0) freeTable(table);
  return token;
}
