// Mistake: the size capped by QueueNumMax but not rounded down to a power of
// two: QueueNumMax 100 gives a queue of 100, which the device refuses.
// Source: none; §2.7's Queue Size is a power of two.
// Must fail: "the size: the request, within QueueNumMax, a power of two" [4.2.2.2/9]

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
  const inUse = window.read32(0x040) >>> 0;
  if (inUse !== 0) throw new QueueSetupError("in use", index, "QueuePFN", inUse);
  const max = window.read32(0x034) >>> 0;
  if (max === 0) throw new QueueSetupError("absent", index, "QueueNumMax", 0);
  const wanted = Math.min(request.size ?? max, max, request.maxSize ?? 32768);
  if (!(wanted >= 1)) throw new QueueSetupError("no size", index, "size", wanted);
  const size = wanted;
  const layout = vringLayout(1 << (31 - Math.clz32(size)), pageSize);
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
