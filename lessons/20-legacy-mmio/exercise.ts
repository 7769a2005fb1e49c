// deno-lint-ignore-file no-unused-vars
/**
 * "Legacy virtio-mmio": your exercise.
 *
 * The same window, an older personality: `Version` reads 1, and a queue is
 * one contiguous region located by a page number (`QueuePFN`) instead of
 * three addresses and `QueueReady`; features are 32 bits and there is no
 * FEATURES_OK. Six functions, both sides:
 *
 * - the device decides what a write to `Status` means without FEATURES_OK
 *   ({@linkcode nextLegacyDeviceStatus}) and what a write to `QueueNum`,
 *   `QueueAlign` or `QueuePFN` does ({@linkcode writeLegacyQueueRegister});
 * - the driver probes a window that may be Version 1 or 2
 *   ({@linkcode probeTransitionalWindow}), negotiates 32 feature bits
 *   ({@linkcode negotiateLegacyFeatures}), brings a queue up
 *   ({@linkcode setupLegacyQueue}) and takes it down
 *   ({@linkcode stopLegacyQueue}).
 *
 * The lab machine calls them when its windows are legacy ones:
 * `deno task lab boot --mine --legacy`.
 *
 * Each doc comment below is a contract; the how is in the lesson, in §4.2.4
 * and §2.7.2. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_MMIO_GUEST_PAGE_SIZE, // 0x028 (W)
 *   VIRTIO_MMIO_QUEUE_SEL,       // 0x030 (W)
 *   VIRTIO_MMIO_QUEUE_NUM_MAX,   // 0x034 (R)
 *   VIRTIO_MMIO_QUEUE_NUM,       // 0x038 (W)
 *   VIRTIO_MMIO_QUEUE_ALIGN,     // 0x03c (W)
 *   VIRTIO_MMIO_QUEUE_PFN,       // 0x040 (RW)
 * } from "../../transport/mmio_registers.ts";
 * import { isValidQueueSize, vringLayout } from "../../virtqueue/layout.ts"; // vring_size and its offsets
 * import { legacyQueueView } from "../../transport/legacy_registers.ts"; // a legacy queue as the area check sees it
 * import { QueueSetupError, QueueStopError } from "../../transport/driver_queues.ts";
 * ```
 *
 * Check your work with `deno task lab check legacy-mmio`; stuck? `deno task lab hint legacy-mmio`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { StatusTransition } from "../../transport/device_status.ts";
import type {
  LegacyQueueRegisterOutcome,
  LegacyQueueRegisters,
  LegacyQueueRegisterWrite,
} from "../../transport/legacy_registers.ts";
import type { QueueAreaCheck } from "../../transport/queue_registers.ts";
import type { ProbeResult } from "../../transport/driver_init.ts";
import type { QueueSetup, QueueSetupRequest } from "../../transport/driver_queues.ts";
import type { GuestAllocator } from "../../memory/allocator.ts";
import type { RegisterWindow } from "../../transport/types.ts";

/**
 * Device side: what a driver's write of `written` to `Status` means on a
 * legacy device, whose status byte was `current` (§2.1, §3.1.2).
 *
 * | the write | `status` | `reset` | `activate` | violations |
 * | --- | --- | --- | --- | --- |
 * | 0 | 0 | true | false | none |
 * | FEATURES_OK (0x08) among the bits | without FEATURES_OK | false | as below | `"4.2.4/D4"` |
 * | clears ACKNOWLEDGE, DRIVER, DRIVER_OK or FAILED | the old bits OR the new ones | false | as below | `"2.1.1/2"` |
 * | adds a bit other than FAILED after FAILED | the OR | false | false | `"2.1.1/3"` |
 * | adds DRIVER without ACKNOWLEDGE, or DRIVER_OK without DRIVER | the OR | false | as below | `"3.1.1/1"` |
 *
 * `status` is `current` OR the legacy status bits written: ACKNOWLEDGE (1),
 * DRIVER (2), DRIVER_OK (4), FAILED (0x80). Never FEATURES_OK (8): a legacy
 * device has no such bit, so it is never kept, and a later write without it
 * clears nothing; never 0x10 or 0x20, which are no status bits. It keeps
 * DEVICE_NEEDS_RESET (0x40) exactly as it was in `current`: that bit is the
 * device's, and a driver writing it sets nothing.
 * `activate` is true exactly when the write newly sets DRIVER_OK and the new
 * status does not have FAILED: on a legacy device DRIVER_OK alone takes it
 * live. `negotiate` is always false. A write breaking several rules reports
 * each of them; a violation's `message` is a sentence of yours, not empty;
 * the order of `violations` is free. Pure: never throws.
 *
 * @param current The status byte before the write (0..0xff).
 * @param written The value written (only its low byte counts).
 * @returns The transition: `{ status, reset, negotiate, activate, violations }`.
 */
export function nextLegacyDeviceStatus(current: number, written: number): StatusTransition {
  return todo(
    "nextLegacyDeviceStatus",
    `decide what writing 0x${written.toString(16)} over status 0x${current.toString(16)} means`,
  );
}

/**
 * Device side: what a driver's write to the selected queue's `QueueNum`,
 * `QueueAlign` or `QueuePFN` does (§4.2.4). The register file applies the
 * `registers` you return (`QueuePFN` reads their `pfn`), logs `problems`,
 * builds the queue from them when `enabled`, and lets go of it when
 * `stopped`.
 *
 * | the write | queue not in use (`pfn` 0) | queue in use (`pfn` not 0) |
 * | --- | --- | --- |
 * | `QueueNum` | `num` = the value | unchanged, `"4.2.4/D3"` |
 * | `QueueAlign` | `align` = the value | unchanged, `"4.2.4/D3"` |
 * | `QueuePFN` 0 | unchanged | `pfn` and `base` 0, `stopped: true` |
 * | `QueuePFN` not 0 | checked (below); accepted: `pfn` = the value, `base` = `pfn × write.guestPageSize`, `enabled: true` | unchanged, `"4.2.4/D3"` |
 *
 * A nonzero `QueuePFN` for a queue not in use is refused, registers
 * unchanged and `enabled: false`, with one problem:
 *
 * | when | problem id |
 * | --- | --- |
 * | `write.guestPageSize` is 0 (never written) or not a power of two | `"4.2.4/D1"` |
 * | `align` is not a power of two of at least 4 | `"4.2.4/D1"` |
 * | `num` is 0 (`QueueNum` never written) | `"4.2.4/D2"` |
 * | `num` is not a power of two from 1 to 32768 | `"2.7/D1"` |
 * | `num` is above `write.max` (`QueueNumMax`) | `"4.2.2.2/9"` |
 * | `checkAreas(view)` returns a problem | that problem |
 *
 * where `view` is the queue the new registers place, in the modern register
 * file's terms: `legacyQueueView({ num, align, pfn, base })` from
 * `transport/legacy_registers.ts` (the three parts laid out as §2.7.2 says
 * from `base`). Ask `checkAreas` only when every row above it passed. When
 * several rows apply, any one of their ids may be reported. A problem is
 * `{ id, message, values }` (`message` not empty, `values` an object of your
 * choice, `action` optional). Values are u32, stored as they are. Pure:
 * return a new record (or the same one when nothing changes); never throws.
 *
 * @param registers The selected queue's registers before the write.
 * @param write The queue index (for messages), the register's offset, the value,
 *   `QueueNumMax` and `GuestPageSize` as last written (0: never).
 * @param checkAreas The device's check of a queue's parts (alignment, inside RAM).
 * @returns The registers afterwards, `enabled`, `stopped` and the problems.
 */
export function writeLegacyQueueRegister(
  registers: LegacyQueueRegisters,
  write: LegacyQueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): LegacyQueueRegisterOutcome {
  return todo(
    "writeLegacyQueueRegister",
    `decide what a write of 0x${write.value.toString(16)} at offset 0x${
      write.offset.toString(16).padStart(3, "0")
    } does to legacy queue ${write.queue}`,
  );
}

/**
 * Driver side: identifies what a window holds, for a driver that drives
 * both interfaces (Linux `vm_probe`). It reads `MagicValue` first, then
 * `Version`; `DeviceID` only if both are fine, and `VendorID` only for a
 * device (DeviceID not 0). Nothing else, no writes.
 *
 * | the window | result |
 * | --- | --- |
 * | `MagicValue` not 0x74726976 | `{ kind: "rejected", requirement: "4.2.2.2/4", reason, magic, version: 0 }` |
 * | `Version` neither 1 nor 2 | `{ kind: "rejected", requirement: "4.2.2.2/5", reason, magic, version }` |
 * | `DeviceID` 0 | `{ kind: "empty" }` |
 * | otherwise | `{ kind: "device", deviceId, vendorId, version }` |
 *
 * Values as read, unsigned; `reason` is a sentence of yours. Never throws
 * (but passes on what the window throws).
 *
 * @param window The window's registers.
 * @returns What the window holds.
 */
export function probeTransitionalWindow(window: RegisterWindow): ProbeResult {
  return todo("probeTransitionalWindow", `probe the window at 0x${window.base.toString(16)}`);
}

/**
 * Driver side: feature negotiation with a legacy device whose status is
 * ACKNOWLEDGE|DRIVER (§3.1.2). Accesses, exactly these, in this order:
 * write `DeviceFeaturesSel` 0, read `DeviceFeatures`, write
 * `DriverFeaturesSel` 0, write `DriverFeatures` with the accepted bits.
 * No other register: no second feature word, no `Status` (no FEATURES_OK).
 *
 * @param window The window's registers.
 * @param supported The features the driver understands (bits above 31 count for nothing).
 * @returns The accepted features: offered ∩ supported, bits 0..31 only (a `bigint`).
 */
export function negotiateLegacyFeatures(window: RegisterWindow, supported: bigint): bigint {
  return todo(
    "negotiateLegacyFeatures",
    `negotiate features with the legacy device at 0x${window.base.toString(16)}`,
  );
}

/**
 * Driver side: configures and enables queue `index` of a legacy device
 * (§4.2.4; Linux `vm_setup_vq` for version 1). The registers, in an order
 * that keeps these (anything else is free):
 *
 * - `GuestPageSize` is written `pageSize` before `QueuePFN` is written;
 * - `QueueSel` is written `index` before any other queue register is
 *   touched, and no other queue is selected meanwhile;
 * - `QueuePFN` is read, and found 0, before any queue register is written;
 * - `QueueNumMax` is read before `QueueNum` is written;
 * - `QueueNum` (the size) and `QueueAlign` (`pageSize`) are written before
 *   `QueuePFN`, which is written once, with the region's page number
 *   (its address / `pageSize`);
 * - `QueuePFN` is read back afterwards: the lab's device reads 0 there for
 *   a queue it refuses.
 *
 * The size: `request.size` (default `QueueNumMax`), no more than
 * `QueueNumMax` nor `request.maxSize` (default 32768), rounded down to a
 * power of two. The region: one allocation, `allocator.alloc(total,
 * pageSize, { zero: true })` with `total` = `vringLayout(size,
 * pageSize).total` (Linux's `vring_size`), and the three parts where
 * `vringLayout` puts them in it.
 *
 * It gives up with `new QueueSetupError(message, index, step, value)`
 * (message yours), undoing only what it did:
 *
 * | `step` | when | `value` | by then |
 * | --- | --- | --- | --- |
 * | `"QueuePFN"` | `QueuePFN` reads nonzero: in use | the value read | no queue register written |
 * | `"QueueNumMax"` | `QueueNumMax` reads 0 | 0 | no queue register written, nothing allocated |
 * | `"size"` | no size of at least 1 fits | the capped size | nothing written, nothing allocated |
 * | `"allocation"` | `alloc` threw (its error the `cause`, fifth argument) | the size | no queue register written |
 * | `"QueuePFN read-back"` | `QueuePFN` reads other than the page number written | the value read | the region freed |
 *
 * @param window The window's registers.
 * @param allocator The driver side's allocator (the region comes from it, and goes back to it).
 * @param index The queue index.
 * @param request The size wanted (`size`) and the driver's bound (`maxSize`).
 * @param pageSize `GuestPageSize` and `QueueAlign`, in bytes (default 4096).
 * @returns `{ size, descAddr, availAddr, usedAddr }`: `descAddr` is the region's start.
 * @throws {QueueSetupError} As in the table.
 */
export function setupLegacyQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  pageSize = 4096,
): QueueSetup {
  return todo(
    "setupLegacyQueue",
    `set up queue ${index} of the legacy device at 0x${window.base.toString(16)}`,
  );
}

/**
 * Driver side: stops a legacy device using queue `index` (§4.2.4; Linux
 * `vm_del_vq`): selects it, writes 0 to `QueuePFN`, and reads `QueuePFN`
 * until it reads 0, then returns; the caller frees the region afterwards.
 * After the write it reads `QueuePFN` at most `maxPolls` times; when none of
 * those reads gave 0 it throws `new QueueStopError(index, maxPolls, last
 * value read, "QueuePFN")`. It allocates and frees nothing.
 *
 * @param window The window's registers.
 * @param index The queue index.
 * @param maxPolls Reads of `QueuePFN` allowed after the write: at least 1 (default 1000).
 * @throws {QueueStopError} When `QueuePFN` never reads 0.
 */
export function stopLegacyQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  return todo(
    "stopLegacyQueue",
    `stop queue ${index} of the legacy device at 0x${window.base.toString(16)}`,
  );
}
