// Mistake: QueuePFN not read before the queue is configured: a queue in use
// is written over (and the device refuses the writes with 4.2.4/D3).
// Source: none; step 2 of §4.2.4.
// Must fail: "a queue in use or absent is left alone" [4.2.4/D3]

import { vringLayout } from "../../../../virtqueue/layout.ts";
import {
  type QueueSetup,
  QueueSetupError,
  type QueueSetupRequest,
} from "../../../../transport/driver_queues.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export function setupLegacyQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  pageSize = 4096,
): QueueSetup {
  window.write32(0x028, pageSize);
  window.write32(0x030, index);
  // (QueuePFN is 0 for a queue nobody set up.)
  const max = window.read32(0x034) >>> 0;
  if (max === 0) throw new QueueSetupError("absent", index, "QueueNumMax", 0);
  const wanted = Math.min(request.size ?? max, max, request.maxSize ?? 32768);
  if (!(wanted >= 1)) throw new QueueSetupError("no size", index, "size", wanted);
  const size = 1 << (31 - Math.clz32(wanted));
  const layout = vringLayout(size, pageSize);
  let base: number;
  try {
    base = allocator.alloc(layout.total, pageSize, { zero: true });
  } catch (error) {
    throw new QueueSetupError("no room", index, "allocation", size, { cause: error });
  }
  window.write32(0x038, size);
  window.write32(0x03c, pageSize);
  window.write32(0x040, base / pageSize);
  const back = window.read32(0x040) >>> 0;
  if (back !== base / pageSize) {
    allocator.free(base);
    throw new QueueSetupError("refused", index, "QueuePFN read-back", back);
  }
  return {
    size,
    descAddr: base,
    availAddr: base + layout.availOffset,
    usedAddr: base + layout.usedOffset,
  };
}

export {
  negotiateLegacyFeatures,
  nextLegacyDeviceStatus,
  probeTransitionalWindow,
  stopLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
