// Mistake: writeChain reports src.length as written, whatever fit: a device
// filling a short chain then tells the driver it wrote more bytes than the
// chain holds.
// Source: none; the driver's side of that lie is Linux d00d8da5869a ("virtio_console: Assure used length from device is limited").
// Must fail: "writeChain writes the stream, however the driver cut it" [2.7.4.1/1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { BufferSegment } from "../../../../virtqueue/types.ts";
import { writeChain as copyIn } from "../correct/free_list_walk.ts";

export { addChain, detachChain, readChain } from "../correct/free_list_walk.ts";

export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  copyIn(memory, segments, src, offset);
  return src.length;
}
