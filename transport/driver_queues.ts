/**
 * The driver side of virtqueue configuration on virtio-mmio (virtio v1.2
 * §4.2.3.2), as Linux's `vm_setup_vq` and `vm_del_vq` do it:
 *
 * - {@linkcode setupQueue}: select the queue, check it is not in use, read
 *   `QueueNumMax`, choose a size, allocate the three areas, write `QueueNum`
 *   and the six address registers, set `QueueReady` and read it back;
 * - {@linkcode stopQueue}: write 0 to `QueueReady` and read it back until it
 *   is 0, after which the areas may be freed.
 *
 * The allocation of the areas is a step of its own (the split ring's
 * `allocateQueueAreas`), passed in, so that each side can be replaced alone.
 *
 * @module
 */

import type { GuestAllocator } from "../memory/allocator.ts";
import type { SplitQueueAddresses } from "../virtqueue/types.ts";
import { VIRTQ_MAX_SIZE } from "../virtqueue/constants.ts";
import {
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
} from "./mmio_registers.ts";
import type { RegisterWindow } from "./types.ts";

/**
 * Allocates a queue's three areas for `size` descriptors: aligned 16, 2 and 4
 * bytes (2.7.1/1), zeroed, so the used ring's `flags` start at 0
 * (2.7.10.1/1), and sized with the event-idx fields; on failure nothing stays
 * allocated. The split ring's `allocateQueueAreas` is one.
 */
export type QueueAreaAllocator = (allocator: GuestAllocator, size: number) => SplitQueueAddresses;

/** Which step of {@linkcode setupQueue} failed. */
export type QueueSetupStep =
  | "QueueReady"
  | "QueueNumMax"
  | "size"
  | "allocation"
  | "QueueReady read-back"
  | "QueuePFN"
  | "QueuePFN read-back";

/** A queue could not be set up; the device's `QueueReady` is 0 and nothing stays allocated. */
export class QueueSetupError extends Error {
  /** The queue index. */
  readonly queue: number;
  /** The step that failed. */
  readonly step: QueueSetupStep;
  /** The register value (or size) that made it fail. */
  readonly value: number;

  /**
   * Records where setting up a queue failed.
   *
   * @param message What went wrong, with the value.
   * @param queue The queue index.
   * @param step The step that failed.
   * @param value The value read or chosen.
   * @param options The underlying error, if any (`cause`).
   */
  constructor(
    message: string,
    queue: number,
    step: QueueSetupStep,
    value: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "QueueSetupError";
    this.queue = queue;
    this.step = step;
    this.value = value;
  }
}

/** What the driver asks of a queue. */
export interface QueueSetupRequest {
  /** The size wanted, in descriptors (default: `QueueNumMax`). */
  readonly size?: number;
  /** The driver's own upper bound, in descriptors (default 32768, the largest Queue Size). */
  readonly maxSize?: number;
}

/** A queue the device accepted: its size and where its areas are. */
export interface QueueSetup extends SplitQueueAddresses {
  /** Queue Size, in descriptors: a power of two no larger than `QueueNumMax`. */
  readonly size: number;
}

/**
 * Configures and enables one virtqueue, in the order of §4.2.3.2:
 *
 * 1. write the index to `QueueSel`;
 * 2. read `QueueReady`: it must be 0, or the queue is in use;
 * 3. read `QueueNumMax`: 0 means the queue does not exist, and no further
 *    queue register is touched;
 * 4. choose the size: the request, capped by `QueueNumMax` and `maxSize`, and
 *    rounded down to a power of two (QueueNumMax 100 gives 64, as Linux's
 *    `vring_create_virtqueue` halves until it fits);
 * 5. allocate the three areas with `allocateAreas`;
 * 6. write `QueueNum`, then the Descriptor, Driver and Device Area addresses,
 *    low word then high word each (the high words matter for RAM above 4 GiB);
 * 7. write 1 to `QueueReady` and read it back: if it is not 1 the device
 *    refused the queue, and the areas are freed.
 *
 * The addresses are guest-physical: no IOMMU, and `VIRTIO_F_ACCESS_PLATFORM`
 * is never accepted (6.1/4).
 *
 * @param window The window's registers.
 * @param allocator The driver side's allocator (given to `allocateAreas`, and used to free on failure).
 * @param index The queue index.
 * @param request Size wanted and the driver's bound.
 * @param allocateAreas Allocates the three areas for a size.
 * @returns The size chosen and the three addresses.
 * @throws {QueueSetupError} If the queue is in use or absent, no size fits,
 *   the allocation fails (its error is the `cause`) or the device does not
 *   read `QueueReady` back as 1. Only what was done is undone: areas are freed
 *   only if they were allocated.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setupQueue } from "./driver_queues.ts";
 * import { beginInitialization, negotiateFeatures, probeWindow } from "./driver_init.ts";
 * import { allocateQueueAreas } from "../virtqueue/driver/areas.ts";
 * import { GuestAllocator } from "../memory/allocator.ts";
 * import { MmioBus } from "./mmio_bus.ts";
 * import { MmioDeviceTransport } from "./mmio_device.ts";
 * import { ConformanceLog } from "../conformance/log.ts";
 * import { GuestMemory } from "../memory/guest_memory.ts";
 * import { MemoryBlockBackend, VirtioBlockDevice } from "../devices/mod.ts";
 * import { features, VIRTIO_F_VERSION_1 } from "../virtio/features.ts";
 * const log = new ConformanceLog({ strict: true }); // any violation throws
 * const memory = new GuestMemory(1 << 20);
 * const device = new VirtioBlockDevice(new MemoryBlockBackend(64 * 512));
 * const bus = new MmioBus({ log });
 * bus.map(0x1e000, new MmioDeviceTransport(device, { memory, log }), {
 *   irq: 42,
 *   name: "virtio_block",
 * });
 * const window = bus.window(0x1e000);
 * assert.equal(probeWindow(window).kind, "device"); // MagicValue and Version first
 * beginInitialization(window);
 * negotiateFeatures(window, features(VIRTIO_F_VERSION_1)); // queues come after FEATURES_OK
 * const q = setupQueue(window, new GuestAllocator(memory), 0, { maxSize: 64 }, allocateQueueAreas);
 * assert.equal(q.size, 64); // the largest size both sides allow
 * assert.equal(window.read32(0x044), 1); // QueueReady
 * ```
 */
export function setupQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  allocateAreas: QueueAreaAllocator,
): QueueSetup {
  window.write32(VIRTIO_MMIO_QUEUE_SEL, index);
  const ready = window.read32(VIRTIO_MMIO_QUEUE_READY) >>> 0;
  if (ready !== 0) {
    throw new QueueSetupError(
      `Queue ${index} is already in use (QueueReady reads ${ready})`,
      index,
      "QueueReady",
      ready,
    );
  }
  const max = window.read32(VIRTIO_MMIO_QUEUE_NUM_MAX) >>> 0;
  if (max === 0) {
    throw new QueueSetupError(
      `Queue ${index} does not exist (QueueNumMax reads 0)`,
      index,
      "QueueNumMax",
      0,
    );
  }
  const wanted = Math.min(
    request.size ?? max,
    max,
    request.maxSize ?? VIRTQ_MAX_SIZE,
    VIRTQ_MAX_SIZE,
  );
  if (!(wanted >= 1)) {
    throw new QueueSetupError(
      `No queue size fits queue ${index}: asked for ${request.size}, bound ${request.maxSize}, ` +
        `QueueNumMax ${max}`,
      index,
      "size",
      wanted,
    );
  }
  const size = 1 << (31 - Math.clz32(wanted)); // round down to a power of two (§2.7)
  let areas: SplitQueueAddresses;
  try {
    areas = allocateAreas(allocator, size);
  } catch (error) {
    throw new QueueSetupError(
      `Cannot allocate the areas of queue ${index} (${size} descriptors): ${messageOf(error)}`,
      index,
      "allocation",
      size,
      { cause: error },
    );
  }
  const { descAddr, availAddr, usedAddr } = areas;
  window.write32(VIRTIO_MMIO_QUEUE_NUM, size);
  window.write32(VIRTIO_MMIO_QUEUE_DESC_LOW, low32(descAddr));
  window.write32(VIRTIO_MMIO_QUEUE_DESC_HIGH, high32(descAddr));
  window.write32(VIRTIO_MMIO_QUEUE_AVAIL_LOW, low32(availAddr));
  window.write32(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, high32(availAddr));
  window.write32(VIRTIO_MMIO_QUEUE_USED_LOW, low32(usedAddr));
  window.write32(VIRTIO_MMIO_QUEUE_USED_HIGH, high32(usedAddr));
  window.write32(VIRTIO_MMIO_QUEUE_READY, 1);
  const readBack = window.read32(VIRTIO_MMIO_QUEUE_READY) >>> 0;
  if (readBack !== 1) {
    for (const area of [descAddr, availAddr, usedAddr]) allocator.free(area);
    throw new QueueSetupError(
      `Device did not accept queue ${index} (QueueReady reads ${readBack} after writing 1)`,
      index,
      "QueueReady read-back",
      readBack,
    );
  }
  return { size, descAddr, availAddr, usedAddr };
}

/** `QueueReady` never read back 0 after the driver wrote 0: the device may still use the queue. */
export class QueueStopError extends Error {
  /** The queue index. */
  readonly queue: number;
  /** Reads of `QueueReady` made. */
  readonly polls: number;
  /** The last value read. */
  readonly ready: number;
  /** The register polled: `"QueueReady"`, or `"QueuePFN"` on a legacy device. */
  readonly register: "QueueReady" | "QueuePFN";

  /**
   * Records how stopping the queue failed.
   *
   * @param queue The queue index.
   * @param polls Reads made.
   * @param ready The last value read.
   * @param register The register polled (default `"QueueReady"`).
   */
  constructor(
    queue: number,
    polls: number,
    ready: number,
    register: "QueueReady" | "QueuePFN" = "QueueReady",
  ) {
    super(
      `Queue ${queue} did not stop: ${register} still reads ${ready} after ${polls} reads; ` +
        "its areas stay allocated",
    );
    this.register = register;
    this.name = "QueueStopError";
    this.queue = queue;
    this.polls = polls;
    this.ready = ready;
  }
}

/**
 * Stops the device using a queue (§4.2.3.2, 4.2.2.2/11): selects it, writes 0
 * to `QueueReady`, and reads `QueueReady` until it is 0. Only then is it safe
 * to free the queue's areas: the device touches a queue no more once it reads
 * 0 (4.2.2.1/7). The caller frees them; this function allocates nothing and
 * frees nothing.
 *
 * @param window The window's registers.
 * @param index The queue index.
 * @param maxPolls Reads of `QueueReady` before giving up (default 1000).
 * @throws {QueueStopError} If `QueueReady` never reads 0: keep the areas.
 * @throws {RangeError} If `maxPolls` is not at least 1.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stopQueue } from "./driver_queues.ts";
 * import type { RegisterWindow } from "./types.ts";
 * const accesses: string[] = [];
 * let ready = 1;
 * const window = {
 *   read32: (offset: number) => (accesses.push(`read ${offset}`), offset === 0x044 ? ready : 0),
 *   write32: (offset: number, value: number) => {
 *     accesses.push(`write ${offset}=${value}`);
 *     if (offset === 0x044) ready = value;
 *   },
 * } as RegisterWindow;
 * stopQueue(window, 1);
 * assert.deepEqual(accesses, ["write 48=1", "write 68=0", "read 68"]); // QueueSel, QueueReady
 * // Only now may the queue's areas be freed.
 * ```
 */
export function stopQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  if (!(maxPolls >= 1)) throw new RangeError(`maxPolls must be at least 1, not ${maxPolls}`);
  window.write32(VIRTIO_MMIO_QUEUE_SEL, index);
  window.write32(VIRTIO_MMIO_QUEUE_READY, 0);
  let ready = 0;
  for (let poll = 1; poll <= maxPolls; poll++) {
    ready = window.read32(VIRTIO_MMIO_QUEUE_READY) >>> 0;
    if (ready === 0) return;
  }
  throw new QueueStopError(index, maxPolls, ready);
}

/** Bits 0..31 of a guest-physical address (exact up to 2^53). */
function low32(address: number): number {
  return address % 0x1_0000_0000;
}

/** Bits 32..63 of a guest-physical address. */
function high32(address: number): number {
  return Math.floor(address / 0x1_0000_0000);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
