// Mistake: GuestPageSize never written, on the belief that the device knows
// the page size already: the lab's device refuses a QueuePFN it cannot turn
// into an address.
// Source: none; Linux writes it in vm_probe, NetBSD at attach, before any queue.
// Must fail: "the steps of §4.2.4, in order" [4.2.4/D1]

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
  // The device's page size is the host's, surely.
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
