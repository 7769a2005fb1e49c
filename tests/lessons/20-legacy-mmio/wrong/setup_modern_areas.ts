// Mistake: the queue laid out as a modern one, each part right after the
// last on its own alignment (16, 2, 4), in one allocation: the device, which
// looks for the used ring on the next QueueAlign boundary, sees another place.
// Source: none; §2.7.2 fixes the legacy layout for both sides.
// Must fail: "one region of vring_size bytes, where the device looks for the queue" [4.2.4/D2]

import {
  type QueueSetup,
  QueueSetupError,
  type QueueSetupRequest,
} from "../../../../transport/driver_queues.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

function packedLayout(size: number) {
  const availOffset = 16 * size;
  const usedOffset = Math.ceil((availOffset + 6 + 2 * size) / 4) * 4;
  return { availOffset, usedOffset, total: usedOffset + 6 + 8 * size };
}

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
  const size = 1 << (31 - Math.clz32(wanted));
  const layout = packedLayout(size);
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
