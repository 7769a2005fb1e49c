/**
 * The driver side of the legacy virtio-mmio interface (virtio v1.2 §4.2.4,
 * Version 1), as Linux's `virtio_mmio` driver still does it for a version 1
 * window (`vm_probe`, `vm_finalize_features`, `vm_setup_vq`, `vm_del_vq`):
 *
 * - {@linkcode probeTransitionalWindow}: identify a window, accepting
 *   Version 1 as well as 2;
 * - {@linkcode negotiateLegacyFeatures}: 32 feature bits, no FEATURES_OK
 *   step (§3.1.2);
 * - {@linkcode setupLegacyQueue}: the seven steps of §4.2.4, one contiguous
 *   page-aligned region per queue (§2.7.2, Linux `vring_size`), located by a
 *   page number in `QueuePFN`;
 * - {@linkcode stopLegacyQueue}: write 0 to `QueuePFN` and read it back.
 *
 * Each is a part of the driver side (`parts.ts`): `MmioDriverTransport`
 * built with `legacy: true` calls them for a version 1 window.
 *
 * @module
 */

import type { GuestAllocator } from "../memory/allocator.ts";
import { VIRTQ_MAX_SIZE } from "../virtqueue/constants.ts";
import { vringLayout } from "../virtqueue/layout.ts";
import {
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_GUEST_PAGE_SIZE,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_ALIGN,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_PFN,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VERSION,
  VIRTIO_MMIO_VERSION_LEGACY,
  VIRTIO_MMIO_VERSION_MODERN,
} from "./mmio_registers.ts";
import type { ProbeResult } from "./driver_init.ts";
import {
  type QueueSetup,
  QueueSetupError,
  type QueueSetupRequest,
  QueueStopError,
} from "./driver_queues.ts";
import type { RegisterWindow } from "./types.ts";

/** The page size the lab's legacy driver writes to `GuestPageSize`: 4096 bytes, Linux's `PAGE_SIZE`. */
export const LEGACY_PAGE_SIZE = 4096;

/**
 * Looks at an MMIO window as a driver that speaks both interfaces does
 * (Linux `vm_probe`): `MagicValue` first, then `Version`, which may be 1
 * (legacy, §4.2.4) or 2 (modern); then `DeviceID`, and if it is 0 nothing
 * else (an empty slot, 4.2.3.1.1/2); otherwise `VendorID`.
 *
 * | window | result |
 * | --- | --- |
 * | MagicValue not 0x74726976 | `{ kind: "rejected", requirement: "4.2.2.2/4", version: 0 }` |
 * | Version neither 1 nor 2 | `{ kind: "rejected", requirement: "4.2.2.2/5", version }` |
 * | DeviceID 0 | `{ kind: "empty" }` |
 * | otherwise | `{ kind: "device", deviceId, vendorId, version }` (version 1 or 2) |
 *
 * @param window The window's registers.
 * @returns A device (with its interface version), an empty slot, or a rejected window.
 * @example
 * ```ts ignore
 * const found = probeTransitionalWindow(bus.window(0x1e000));
 * if (found.kind === "device" && found.version === 1) console.log("legacy device");
 * ```
 */
export function probeTransitionalWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(VIRTIO_MMIO_MAGIC_VALUE) >>> 0;
  if (magic !== VIRTIO_MMIO_MAGIC) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/4",
      reason: `MagicValue reads 0x${magic.toString(16).padStart(8, "0")}, not 0x74726976 ("virt")`,
      magic,
      version: 0,
    };
  }
  const version = window.read32(VIRTIO_MMIO_VERSION) >>> 0;
  if (version !== VIRTIO_MMIO_VERSION_LEGACY && version !== VIRTIO_MMIO_VERSION_MODERN) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/5",
      reason: `Version reads ${version}, neither 1 (legacy) nor 2`,
      magic,
      version,
    };
  }
  const deviceId = window.read32(VIRTIO_MMIO_DEVICE_ID) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  const vendorId = window.read32(VIRTIO_MMIO_VENDOR_ID) >>> 0;
  return { kind: "device", deviceId, vendorId, version };
}

/**
 * Feature negotiation on a legacy device (§3.1.2, Linux
 * `vm_finalize_features` for version 1), after DRIVER is set: read the 32
 * offered bits (`DeviceFeaturesSel` 0, then `DeviceFeatures`), accept those
 * the driver supports, and write them (`DriverFeaturesSel` 0, then
 * `DriverFeatures`). There is no FEATURES_OK to set and nothing to read back:
 * the features become final when the driver sets DRIVER_OK (4.2.4/D4).
 *
 * Accesses, in this order: write `DeviceFeaturesSel` 0, read
 * `DeviceFeatures`, write `DriverFeaturesSel` 0, write `DriverFeatures`.
 * Nothing else: no other feature word, no `Status`.
 *
 * @param window The window's registers.
 * @param supported The features the driver understands (bits 32 and up are ignored).
 * @returns The accepted features: offered ∩ supported, within bits 0..31.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { negotiateLegacyFeatures } from "./driver_legacy.ts";
 * import type { RegisterWindow } from "./types.ts";
 * const writes: string[] = [];
 * const window = {
 *   read32: (offset: number) => (offset === 0x010 ? 0x3000_0044 : 0),
 *   write32: (offset: number, value: number) => void writes.push(`${offset}=${value}`),
 * } as RegisterWindow;
 * assert.equal(negotiateLegacyFeatures(window, (1n << 32n) | 0x1000_0004n), 0x1000_0004n);
 * assert.deepEqual(writes, ["20=0", "36=0", "32=268435460"]);
 * ```
 */
export function negotiateLegacyFeatures(window: RegisterWindow, supported: bigint): bigint {
  window.write32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  const offered = BigInt(window.read32(VIRTIO_MMIO_DEVICE_FEATURES) >>> 0);
  const accepted = offered & supported & 0xffff_ffffn;
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES, Number(accepted));
  return accepted;
}

/**
 * Configures and enables one virtqueue of a legacy device, as §4.2.4 says:
 *
 * 1. write the page size to `GuestPageSize` (before any queue register,
 *    4.2.4/D1; Linux writes it once at probe, doing it here keeps the step
 *    self-contained and costs one write);
 * 2. write the index to `QueueSel`;
 * 3. read `QueuePFN`: it must be 0, or the queue is in use (4.2.4/D3);
 * 4. read `QueueNumMax`: 0 means the queue does not exist, and no further
 *    queue register is touched;
 * 5. choose the size: the request, capped by `QueueNumMax` and `maxSize`,
 *    rounded down to a power of two;
 * 6. allocate one zeroed region of `vring_size(size, pageSize)` bytes
 *    (§2.7.2) on a `pageSize` boundary;
 * 7. write `QueueNum`, then `QueueAlign` (the page size: the used ring starts
 *    on the next page boundary), then `QueuePFN`, the region's page number,
 *    last (4.2.4/D2);
 * 8. read `QueuePFN` back: a device that refused the queue reads 0 there;
 *    the region is then freed.
 *
 * @param window The window's registers.
 * @param allocator The driver side's allocator (the region comes from it, and goes back on failure).
 * @param index The queue index.
 * @param request Size wanted and the driver's bound.
 * @param pageSize `GuestPageSize` and `QueueAlign`, in bytes: a power of two (default 4096).
 * @returns The size chosen and the three addresses inside the region
 *   (`descAddr` is the region's start, the address to free).
 * @throws {QueueSetupError} If the queue is in use (`step` `"QueuePFN"`), absent
 *   (`"QueueNumMax"`), no size fits (`"size"`), the allocation fails or the
 *   region lies above what a 32-bit page number reaches (`"allocation"`), or
 *   `QueuePFN` does not read back the page number written (`"QueuePFN read-back"`).
 *   Nothing stays allocated.
 * @example
 * ```ts ignore
 * const q = setupLegacyQueue(window, allocator, 0, { maxSize: 256 });
 * q.usedAddr - q.descAddr; // 0x3000 for 256 descriptors: two pages of table and avail ring
 * ```
 */
export function setupLegacyQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  pageSize: number = LEGACY_PAGE_SIZE,
): QueueSetup {
  window.write32(VIRTIO_MMIO_GUEST_PAGE_SIZE, pageSize);
  window.write32(VIRTIO_MMIO_QUEUE_SEL, index);
  const inUse = window.read32(VIRTIO_MMIO_QUEUE_PFN) >>> 0;
  if (inUse !== 0) {
    throw new QueueSetupError(
      `Queue ${index} is already in use (QueuePFN reads 0x${inUse.toString(16)})`,
      index,
      "QueuePFN",
      inUse,
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
  const size = 1 << (31 - Math.clz32(wanted));
  const layout = vringLayout(size, pageSize);
  let base: number;
  try {
    base = allocator.alloc(layout.total, pageSize, { zero: true });
  } catch (error) {
    throw new QueueSetupError(
      `Cannot allocate the ${layout.total}-byte region of queue ${index} (${size} descriptors): ${
        error instanceof Error ? error.message : String(error)
      }`,
      index,
      "allocation",
      size,
      { cause: error },
    );
  }
  const pfn = base / pageSize;
  if (pfn > 0xffff_ffff) {
    // Linux vm_setup_vq: "legacy virtio-mmio must not be used with RAM above 0x...GB".
    allocator.free(base);
    throw new QueueSetupError(
      `The region of queue ${index} at 0x${
        base.toString(16)
      } is beyond a 32-bit page number of ${pageSize}-byte pages`,
      index,
      "allocation",
      size,
    );
  }
  window.write32(VIRTIO_MMIO_QUEUE_NUM, size);
  window.write32(VIRTIO_MMIO_QUEUE_ALIGN, pageSize);
  window.write32(VIRTIO_MMIO_QUEUE_PFN, pfn);
  const readBack = window.read32(VIRTIO_MMIO_QUEUE_PFN) >>> 0;
  if (readBack !== pfn) {
    allocator.free(base);
    throw new QueueSetupError(
      `Device did not accept queue ${index} (QueuePFN reads 0x${
        readBack.toString(16)
      } after writing 0x${pfn.toString(16)})`,
      index,
      "QueuePFN read-back",
      readBack,
    );
  }
  return {
    size,
    descAddr: base + layout.descOffset,
    availAddr: base + layout.availOffset,
    usedAddr: base + layout.usedOffset,
  };
}

/**
 * Stops a legacy device using a queue (§4.2.4, Linux `vm_del_vq`): selects
 * it, writes 0 to `QueuePFN`, and reads `QueuePFN` until it is 0, after
 * which the region may be freed (4.2.4/D6). Allocates and frees nothing.
 *
 * @param window The window's registers.
 * @param index The queue index.
 * @param maxPolls Reads of `QueuePFN` before giving up (default 1000).
 * @throws {QueueStopError} If `QueuePFN` never reads 0 (`ready` holds the last value): keep the region.
 * @throws {RangeError} If `maxPolls` is not at least 1.
 */
export function stopLegacyQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  if (!(maxPolls >= 1)) throw new RangeError(`maxPolls must be at least 1, not ${maxPolls}`);
  window.write32(VIRTIO_MMIO_QUEUE_SEL, index);
  window.write32(VIRTIO_MMIO_QUEUE_PFN, 0);
  let pfn = 0;
  for (let poll = 1; poll <= maxPolls; poll++) {
    pfn = window.read32(VIRTIO_MMIO_QUEUE_PFN) >>> 0;
    if (pfn === 0) return;
  }
  throw new QueueStopError(index, maxPolls, pfn, "QueuePFN");
}
