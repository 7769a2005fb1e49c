// Mistake: QueueReady written right after QueueNum, the addresses after it: the
// device checks the areas at QueueReady, finds none, and keeps the queue off.
// Source: none.
// Must fail: "the steps of §4.2.3.2, in order" [4.2.3.2/D1]

import {
  type QueueAreaAllocator,
  type QueueSetup,
  QueueSetupError,
  type QueueSetupRequest,
} from "../../../../transport/driver_queues.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const QUEUE_SEL = 0x030;
const QUEUE_NUM_MAX = 0x034;
const QUEUE_NUM = 0x038;
const QUEUE_READY = 0x044;
const DESC_LOW = 0x080;
const DESC_HIGH = 0x084;
const DRIVER_LOW = 0x090;
const DRIVER_HIGH = 0x094;
const DEVICE_LOW = 0x0a0;
const DEVICE_HIGH = 0x0a4;

export function setupQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  allocateAreas: QueueAreaAllocator,
): QueueSetup {
  window.write32(QUEUE_SEL, index);
  const ready = window.read32(QUEUE_READY) >>> 0;
  if (ready !== 0) {
    throw new QueueSetupError(`Queue ${index} is in use`, index, "QueueReady", ready);
  }
  const max = window.read32(QUEUE_NUM_MAX) >>> 0;
  if (max === 0) {
    throw new QueueSetupError(`Queue ${index} does not exist`, index, "QueueNumMax", 0);
  }
  const capped = Math.min(request.size ?? max, max, request.maxSize ?? 32768, 32768);
  if (!(capped >= 1)) {
    throw new QueueSetupError(`No size fits queue ${index}`, index, "size", capped);
  }
  let size = 1;
  while (size * 2 <= capped) size *= 2;
  let areas;
  try {
    areas = allocateAreas(allocator, size);
  } catch (error) {
    throw new QueueSetupError(`No memory for queue ${index}`, index, "allocation", size, {
      cause: error,
    });
  }
  const lo = (a: number) => a % 2 ** 32;
  const hi = (a: number) => Math.floor(a / 2 ** 32);
  window.write32(QUEUE_NUM, size);
  window.write32(QUEUE_READY, 1);
  window.write32(DESC_LOW, lo(areas.descAddr));
  window.write32(DESC_HIGH, hi(areas.descAddr));
  window.write32(DRIVER_LOW, lo(areas.availAddr));
  window.write32(DRIVER_HIGH, hi(areas.availAddr));
  window.write32(DEVICE_LOW, lo(areas.usedAddr));
  window.write32(DEVICE_HIGH, hi(areas.usedAddr));
  const back = window.read32(QUEUE_READY) >>> 0;
  if (back !== 1) {
    allocator.free(areas.descAddr);
    allocator.free(areas.availAddr);
    allocator.free(areas.usedAddr);
    throw new QueueSetupError(`Queue ${index} refused`, index, "QueueReady read-back", back);
  }
  return { size, ...areas };
}

// The parts this mistake leaves alone: the correct solution's.
export { stopQueue, writeQueueRegister } from "../correct/straight_line.ts";
