/**
 * The device side of the legacy virtio-mmio interface (virtio v1.2 §4.2.4,
 * Version 1), the register file's second personality:
 *
 * - {@linkcode writeLegacyQueueRegister}: what a write to `QueueNum`,
 *   `QueueAlign` or `QueuePFN` does. A legacy queue is one contiguous region
 *   that starts at page `QueuePFN` (pages of `GuestPageSize` bytes) and is
 *   laid out as §2.7.2 says: descriptor table, available ring, padding up to
 *   `QueueAlign`, used ring (Linux `vring_init`, `vring_size`). Writing a
 *   nonzero `QueuePFN` is what enables the queue (there is no `QueueReady`),
 *   writing 0 stops it;
 * - {@linkcode nextLegacyDeviceStatus}: what a write to `Status` means when
 *   there is no FEATURES_OK step (§3.1.2): the device goes live at DRIVER_OK
 *   with the features written so far.
 *
 * Both are parts of the device side (`parts.ts`), called by
 * `MmioDeviceTransport` when it is built with `version: 1`; the rest of the
 * register file (identification, `InterruptStatus`, `QueueNotify`,
 * configuration space) is shared with the modern interface.
 *
 * @module
 */

import {
  formatStatus,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../virtio/status.ts";
import { availRingSize, descTableSize, isValidQueueSize } from "../virtqueue/layout.ts";
import { VRING_USED_ALIGN_SIZE } from "../virtqueue/constants.ts";
import {
  VIRTIO_MMIO_QUEUE_ALIGN,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_PFN,
} from "./mmio_registers.ts";
import {
  INITIAL_QUEUE_REGISTERS,
  type QueueAreaCheck,
  type QueueRegisters,
} from "./queue_registers.ts";
import type { RuleBreak, StatusTransition } from "./device_status.ts";
import type { RuleProblem } from "./types.ts";

/** `QueueAlign` before the driver writes it: 4096 bytes, as QEMU's legacy devices assume. */
export const LEGACY_DEFAULT_QUEUE_ALIGN = 4096;

/**
 * What the driver has written to one legacy queue's registers, as the device
 * holds it (§4.2.4).
 */
export interface LegacyQueueRegisters {
  /** `QueueNum` as written, in descriptors (0 until written). Checked when `QueuePFN` is set. */
  readonly num: number;
  /** `QueueAlign` as written, in bytes ({@linkcode LEGACY_DEFAULT_QUEUE_ALIGN} until written). */
  readonly align: number;
  /** `QueuePFN` of the queue in use, 0 when the queue is not in use (what `QueuePFN` reads). */
  readonly pfn: number;
  /**
   * The guest-physical address of the region, `QueuePFN × GuestPageSize`,
   * latched when `QueuePFN` was accepted (0 when not in use): a later
   * `GuestPageSize` write does not move a queue in use.
   */
  readonly base: number;
}

/** A legacy queue's registers after a device reset: not in use (4.2.4/D6). */
export const INITIAL_LEGACY_QUEUE_REGISTERS: LegacyQueueRegisters = Object.freeze({
  num: 0,
  align: LEGACY_DEFAULT_QUEUE_ALIGN,
  pfn: 0,
  base: 0,
});

/** One driver write to a legacy queue register, with what the register file knows. */
export interface LegacyQueueRegisterWrite {
  /** The selected queue (`QueueSel`), for messages. */
  readonly queue: number;
  /** `VIRTIO_MMIO_QUEUE_NUM`, `VIRTIO_MMIO_QUEUE_ALIGN` or `VIRTIO_MMIO_QUEUE_PFN`. */
  readonly offset: number;
  /** The value written (u32). */
  readonly value: number;
  /** The queue's `QueueNumMax`. */
  readonly max: number;
  /** `GuestPageSize` as last written, in bytes; 0 if the driver never wrote it. */
  readonly guestPageSize: number;
}

/** What {@linkcode writeLegacyQueueRegister} decided. */
export interface LegacyQueueRegisterOutcome {
  /** The queue's registers after the write (unchanged when the write was refused). */
  readonly registers: LegacyQueueRegisters;
  /** The rules the write broke, each with what the device did about it. */
  readonly problems: readonly RuleProblem[];
  /** The queue went into use: `QueuePFN` was accepted and the device may use the region. */
  readonly enabled: boolean;
  /** The queue left use: 0 was written to the `QueuePFN` of a queue in use. */
  readonly stopped: boolean;
}

/**
 * The queue a legacy queue's registers describe, as the modern register file
 * holds one (`ready` and the three area addresses), for the area check, the
 * device half of the ring and the register display. A queue not in use is
 * {@linkcode INITIAL_QUEUE_REGISTERS} with its `num`.
 *
 * @param registers A legacy queue's registers; in use, `num` and `align` are valid.
 * @returns The modern view: `ready` exactly when `pfn` is nonzero.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { legacyQueueView } from "./legacy_registers.ts";
 * const view = legacyQueueView({ num: 256, align: 4096, pfn: 0x40010, base: 0x4001_0000 });
 * assert.equal(view.ready, true);
 * assert.equal(view.driverLow, 0x4001_1000); // 256 descriptors of 16 bytes
 * assert.equal(view.deviceLow, 0x4001_2000); // the next 4096-byte boundary after the avail ring
 * ```
 */
export function legacyQueueView(registers: LegacyQueueRegisters): QueueRegisters {
  if (registers.pfn === 0) return { ...INITIAL_QUEUE_REGISTERS, num: registers.num };
  // As QEMU's virtio_queue_update_rings and Linux's vring_init place them:
  // the used ring on the first multiple of QueueAlign (an address, not an
  // offset) after the available ring and its used_event. With the region on
  // a QueueAlign boundary, as drivers place it, this is vringLayout's offset.
  const { base, num, align } = registers;
  const descAddr = base;
  const availAddr = base + descTableSize(num);
  const usedAddr = Math.ceil((availAddr + availRingSize(num, true)) / align) * align;
  return {
    ...INITIAL_QUEUE_REGISTERS,
    num: registers.num,
    ready: true,
    descLow: low32(descAddr),
    descHigh: high32(descAddr),
    driverLow: low32(availAddr),
    driverHigh: high32(availAddr),
    deviceLow: low32(usedAddr),
    deviceHigh: high32(usedAddr),
  };
}

/**
 * Decides what a driver write to a legacy queue register does (§4.2.4):
 *
 * | write | queue not in use (`pfn` 0) | queue in use |
 * | --- | --- | --- |
 * | `QueueNum` | stored (checked when `QueuePFN` is set) | ignored, 4.2.4/D3 |
 * | `QueueAlign` | stored (checked when `QueuePFN` is set) | ignored, 4.2.4/D3 |
 * | `QueuePFN` 0 | nothing to do | `stopped`: `pfn` 0, the device lets go |
 * | `QueuePFN` nonzero | checked, then `enabled` | ignored, 4.2.4/D3 |
 *
 * A nonzero `QueuePFN` is refused (the queue stays out of use, so `QueuePFN`
 * reads 0) when, in this order:
 *
 * 1. `GuestPageSize` was never written, or is not a power of two (4.2.4/D1);
 * 2. `QueueAlign` is not a power of two of at least 4 (4.2.4/D1);
 * 3. `QueueNum` was never written (4.2.4/D2), is not a Queue Size (2.7/D1),
 *    or is above `QueueNumMax` (4.2.2.2/9);
 * 4. `areaCheck` refuses the three parts where the legacy layout puts them
 *    from `QueuePFN × GuestPageSize` (alignment 2.7.1/1, inside RAM
 *    2.7.5/D2). The caller's check is asked with the event fields counted:
 *    `vring_size` always reserves them.
 *
 * @param registers The selected queue's registers.
 * @param write The register, value, `QueueNumMax` and `GuestPageSize`.
 * @param areaCheck The area check of a queue about to go live (the `queueAreaProblem` part, bound).
 * @returns The new registers, the problems, and whether the queue went into or out of use.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   INITIAL_LEGACY_QUEUE_REGISTERS,
 *   writeLegacyQueueRegister,
 * } from "./legacy_registers.ts";
 * const write = { queue: 0, max: 256, guestPageSize: 4096 };
 * let q = writeLegacyQueueRegister(
 *   INITIAL_LEGACY_QUEUE_REGISTERS,
 *   { ...write, offset: 0x038, value: 128 },
 *   () => null,
 * ).registers;
 * const outcome = writeLegacyQueueRegister(q, { ...write, offset: 0x040, value: 0x40010 }, () => null);
 * assert.equal(outcome.enabled, true);
 * assert.equal(outcome.registers.base, 0x4001_0000);
 * ```
 */
export function writeLegacyQueueRegister(
  registers: LegacyQueueRegisters,
  write: LegacyQueueRegisterWrite,
  areaCheck: QueueAreaCheck,
): LegacyQueueRegisterOutcome {
  const { queue, offset, max, guestPageSize } = write;
  const value = write.value >>> 0;
  const inUse = registers.pfn !== 0;
  const name = offset === VIRTIO_MMIO_QUEUE_NUM
    ? "QueueNum"
    : offset === VIRTIO_MMIO_QUEUE_ALIGN
    ? "QueueAlign"
    : offset === VIRTIO_MMIO_QUEUE_PFN
    ? "QueuePFN"
    : null;
  if (name === null) return unchanged(registers, []);
  if (offset === VIRTIO_MMIO_QUEUE_PFN && value === 0) {
    if (!inUse) return unchanged(registers, []);
    return {
      registers: { ...registers, pfn: 0, base: 0 },
      problems: [],
      enabled: false,
      stopped: true,
    };
  }
  if (inUse) {
    return unchanged(registers, [
      refusal(
        "4.2.4/D3",
        `${name} written (${value}) while queue ${queue} is in use (QueuePFN ${
          hex(registers.pfn)
        })`,
        { queue, register: name, value, pfn: hex(registers.pfn) },
      ),
    ]);
  }
  if (offset === VIRTIO_MMIO_QUEUE_NUM) return unchanged({ ...registers, num: value }, []);
  if (offset === VIRTIO_MMIO_QUEUE_ALIGN) return unchanged({ ...registers, align: value }, []);

  // A nonzero QueuePFN for a queue not in use: the queue goes live if it can.
  const refuse = (id: RuleProblem["id"], message: string, values: RuleProblem["values"]) =>
    unchanged(registers, [refusal(id, message, values, "QueuePFN refused")]);
  if (guestPageSize === 0) {
    return refuse(
      "4.2.4/D1",
      `QueuePFN written for queue ${queue} before GuestPageSize`,
      { queue, pfn: hex(value) },
    );
  }
  if (!isPowerOfTwo(guestPageSize)) {
    return refuse(
      "4.2.4/D1",
      `QueuePFN written for queue ${queue} with GuestPageSize ${guestPageSize}, not a power of two`,
      { queue, guestPageSize },
    );
  }
  const align = registers.align;
  if (!isPowerOfTwo(align) || align < VRING_USED_ALIGN_SIZE) {
    return refuse(
      "4.2.4/D1",
      `QueuePFN written for queue ${queue} with QueueAlign ${align}, not a power of two of at least ${VRING_USED_ALIGN_SIZE}`,
      { queue, align },
    );
  }
  const num = registers.num;
  if (num === 0) {
    return refuse(
      "4.2.4/D2",
      `QueuePFN written for queue ${queue} before QueueNum`,
      { queue, pfn: hex(value) },
    );
  }
  if (!isValidQueueSize(num)) {
    return refuse(
      "2.7/D1",
      `QueuePFN written for queue ${queue} with QueueNum ${num}, not a power of two from 1 to 32768`,
      { queue, num },
    );
  }
  if (num > max) {
    return refuse(
      "4.2.2.2/9",
      `QueuePFN written for queue ${queue} with QueueNum ${num} above QueueNumMax ${max}`,
      { queue, num, max },
    );
  }
  // A u32 page number times a power of two: exact in a double, refused below if above 2^53.
  const base = value * guestPageSize;
  const candidate: LegacyQueueRegisters = { num, align, pfn: value, base };
  if (!Number.isSafeInteger(base)) {
    return refuse(
      "2.7.5/D2",
      `QueuePFN ${
        hex(value)
      } × GuestPageSize ${guestPageSize} for queue ${queue} is beyond any guest RAM`,
      { queue, pfn: hex(value), guestPageSize },
    );
  }
  const problem = areaCheck(legacyQueueView(candidate));
  if (problem) {
    return unchanged(registers, [{ ...problem, action: problem.action ?? "QueuePFN refused" }]);
  }
  return { registers: candidate, problems: [], enabled: true, stopped: false };
}

/**
 * What a driver's write to `Status` means on a legacy device (§2.1, §3.1.2):
 * like the modern transition, with no FEATURES_OK step.
 *
 * - 0 is a reset;
 * - the driver only adds bits (2.1.1/2) and adds none but FAILED after FAILED
 *   (2.1.1/3); DRIVER needs ACKNOWLEDGE, DRIVER_OK needs DRIVER (3.1.1/1);
 * - FEATURES_OK is not a bit a legacy device knows: setting it breaks
 *   4.2.4/D4, and it is not kept (`status` leaves it out, so a later write
 *   without it clears nothing);
 * - `negotiate` is always `false`: features are final when the device goes
 *   live, and `activate` is set when DRIVER_OK is newly set without FAILED.
 *
 * @param current The status byte before the write.
 * @param written The value written.
 * @returns The transition, in the shape of the modern `nextDeviceStatus`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nextLegacyDeviceStatus } from "./legacy_registers.ts";
 * const t = nextLegacyDeviceStatus(0x03, 0x07); // ACKNOWLEDGE|DRIVER, then DRIVER_OK
 * assert.equal(t.activate, true);
 * assert.deepEqual(t.violations, []);
 * ```
 */
export function nextLegacyDeviceStatus(current: number, written: number): StatusTransition {
  const value = written & 0xff;
  if (value === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const violations: RuleBreak[] = [];
  const known = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK |
    VIRTIO_CONFIG_S_FAILED;
  if ((value & VIRTIO_CONFIG_S_FEATURES_OK) !== 0) {
    violations.push({
      id: "4.2.4/D4",
      message: `Driver wrote status ${
        hex2(value)
      } with FEATURES_OK, which a legacy device does not have`,
    });
  }
  const requested = value & known;
  const kept = current & known;
  const cleared = kept & ~requested;
  if (cleared !== 0) {
    violations.push({
      id: "2.1.1/2",
      message: `Driver wrote status ${hex2(value)}, clearing ${formatStatus(cleared)} ` +
        `(status was ${formatStatus(current)})`,
    });
  }
  const status = ((current & (known | VIRTIO_CONFIG_S_NEEDS_RESET)) | requested) & 0xff;
  const added = status & ~current;
  if ((current & VIRTIO_CONFIG_S_FAILED) !== 0 && (added & ~VIRTIO_CONFIG_S_FAILED) !== 0) {
    violations.push({
      id: "2.1.1/3",
      message: `Driver set ${formatStatus(added)} after FAILED without resetting the device first`,
    });
  }
  const order: [number, number, string][] = [
    [VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_ACKNOWLEDGE, "ACKNOWLEDGE"],
    [VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_DRIVER, "DRIVER"],
  ];
  for (const [bit, prerequisite, name] of order) {
    if ((added & bit) !== 0 && (status & prerequisite) === 0) {
      violations.push({
        id: "3.1.1/1",
        message: `Driver set ${formatStatus(bit)} before ${name} (status ${formatStatus(status)})`,
      });
    }
  }
  const activate = (added & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 &&
    (status & VIRTIO_CONFIG_S_FAILED) === 0;
  return { status, reset: false, negotiate: false, activate, violations };
}

function unchanged(
  registers: LegacyQueueRegisters,
  problems: readonly RuleProblem[],
): LegacyQueueRegisterOutcome {
  return { registers, problems, enabled: false, stopped: false };
}

function refusal(
  id: RuleProblem["id"],
  message: string,
  values: RuleProblem["values"],
  action = "write ignored",
): RuleProblem {
  return { id, message, values, action };
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 0x8000_0000;
}

function low32(address: number): number {
  return address % 0x1_0000_0000;
}

function high32(address: number): number {
  return Math.floor(address / 0x1_0000_0000);
}

function hex(value: number): string {
  return `0x${(value >>> 0).toString(16)}`;
}

function hex2(value: number): string {
  return `0x${value.toString(16).padStart(2, "0")}`;
}
