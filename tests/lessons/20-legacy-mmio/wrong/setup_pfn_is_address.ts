// Mistake: the region's address written to QueuePFN instead of its page
// number, so the device looks for the queue GuestPageSize times further up.
// Source: none; the unit slip the register's name warns about.
// Must fail: "one region of vring_size bytes, where the device looks for the queue" [4.2.4/D2]

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
  window.write32(0x040, base);
  window.read32(0x040);
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
