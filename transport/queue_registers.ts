/**
 * The per-queue registers of a virtio-mmio device (virtio v1.2 §4.2.2,
 * §4.2.3.2) as a plain record, and the two decisions the register file makes
 * about them:
 *
 * - {@linkcode writeQueueRegister}: what a driver's write to `QueueNum`, one of
 *   the six area address registers, `QueueReady` or `QueueReset` does to the
 *   selected queue's record, and which rules the write broke;
 * - {@linkcode queueAreaProblem}: whether the queue can be used when the
 *   driver sets `QueueReady` to 1: a valid Queue Size, and three areas that are
 *   aligned as §2.7 requires, lie inside guest RAM and do not overlap.
 *
 * Both are pure: the register file (`MmioDeviceTransport`) keeps one
 * {@linkcode QueueRegisters} record per queue, applies what the functions
 * return and logs the problems.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import {
  availRingSize,
  descTableSize,
  isValidQueueSize,
  usedRingSize,
} from "../virtqueue/layout.ts";
import {
  VRING_AVAIL_ALIGN_SIZE,
  VRING_DESC_ALIGN_SIZE,
  VRING_USED_ALIGN_SIZE,
} from "../virtqueue/constants.ts";
import {
  findRegister,
  hex3,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
} from "./mmio_registers.ts";
import type { RuleProblem } from "./types.ts";

/**
 * What the driver has written to one queue's registers, as the device holds
 * it (§4.2.2). Every address half is a u32; the 64-bit area addresses are
 * `high * 2^32 + low`.
 */
export interface QueueRegisters {
  /** `QueueNum` as accepted: Queue Size in descriptors; 0 until a valid value is written. */
  readonly num: number;
  /** `QueueReady`: the device may use the queue. */
  readonly ready: boolean;
  /** `QueueDescLow`: Descriptor Area address, bits 0..31. */
  readonly descLow: number;
  /** `QueueDescHigh`: Descriptor Area address, bits 32..63. */
  readonly descHigh: number;
  /** `QueueDriverLow`: Driver Area (available ring) address, bits 0..31. */
  readonly driverLow: number;
  /** `QueueDriverHigh`: Driver Area address, bits 32..63. */
  readonly driverHigh: number;
  /** `QueueDeviceLow`: Device Area (used ring) address, bits 0..31. */
  readonly deviceLow: number;
  /** `QueueDeviceHigh`: Device Area address, bits 32..63. */
  readonly deviceHigh: number;
  /**
   * `QueueReady` was written 0 and not read back since (4.2.2.2/11). The
   * register file clears it when the driver reads `QueueReady`.
   */
  readonly stopUnconfirmed: boolean;
  /**
   * `QueueReset` was written 1 and not read back since (4.2.2.2/14). The
   * register file clears it when the driver reads `QueueReset`.
   */
  readonly resetUnconfirmed: boolean;
  /** The queue was reset through `QueueReset` and not enabled since (2.6.1.2.2/1). */
  readonly wasReset: boolean;
}

/**
 * A queue's registers after a device reset: nothing written, not ready
 * (4.2.2.1/5).
 */
export const INITIAL_QUEUE_REGISTERS: QueueRegisters = Object.freeze({
  num: 0,
  ready: false,
  descLow: 0,
  descHigh: 0,
  driverLow: 0,
  driverHigh: 0,
  deviceLow: 0,
  deviceHigh: 0,
  stopUnconfirmed: false,
  resetUnconfirmed: false,
  wasReset: false,
});

/** One of a queue's three areas, as the registers place it (§2.7). */
export interface QueueArea {
  /** The spec's name: `"Descriptor Area"`, `"Driver Area"` or `"Device Area"`. */
  readonly name: "Descriptor Area" | "Driver Area" | "Device Area";
  /** The full 64-bit guest-physical address. */
  readonly address: bigint;
  /** Required alignment in bytes: 16, 2 and 4 (§2.7 table, 2.7.1/1). */
  readonly align: number;
  /** Size in bytes for the queue's size and the negotiated `VIRTIO_F_EVENT_IDX`. */
  readonly length: number;
}

/**
 * The three areas a queue's registers describe, with the sizes of §2.7: the
 * descriptor table is 16 × Queue Size bytes, the available ring 4 + 2 × Queue
 * Size, the used ring 4 + 8 × Queue Size, and with `VIRTIO_F_EVENT_IDX` each
 * ring carries its 2-byte trailer (`used_event`, `avail_event`): 6 + 2 × Queue
 * Size and 6 + 8 × Queue Size, the sizes in the spec's table.
 *
 * @param registers The queue's registers; `num` must be a valid Queue Size.
 * @param eventIdx Whether `VIRTIO_F_EVENT_IDX` was negotiated.
 * @returns Descriptor, Driver and Device Area, in that order.
 * @throws {QueueSizeError} If `registers.num` is not a valid Queue Size.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INITIAL_QUEUE_REGISTERS, queueAreas } from "./queue_registers.ts";
 * const areas = queueAreas({ ...INITIAL_QUEUE_REGISTERS, num: 8, deviceHigh: 1 }, true);
 * assert.deepEqual(areas.map((a) => a.length), [128, 22, 70]);
 * assert.equal(areas[2].address, 0x1_0000_0000n);
 * ```
 */
export function queueAreas(registers: QueueRegisters, eventIdx: boolean): readonly QueueArea[] {
  const n = registers.num;
  return [
    {
      name: "Descriptor Area",
      address: join64(registers.descLow, registers.descHigh),
      align: VRING_DESC_ALIGN_SIZE,
      length: descTableSize(n),
    },
    {
      name: "Driver Area",
      address: join64(registers.driverLow, registers.driverHigh),
      align: VRING_AVAIL_ALIGN_SIZE,
      length: availRingSize(n, eventIdx),
    },
    {
      name: "Device Area",
      address: join64(registers.deviceLow, registers.deviceHigh),
      align: VRING_USED_ALIGN_SIZE,
      length: usedRingSize(n, eventIdx),
    },
  ];
}

/** What {@linkcode queueAreaProblem} needs to know besides the registers. */
export interface QueueAreaContext {
  /** The queue's index, for messages. */
  readonly queue: number;
  /** The queue's `QueueNumMax`. */
  readonly max: number;
  /** Guest RAM: `size` bytes from guest-physical `base` (a `GuestMemory` will do). */
  readonly ram: { readonly base: number; readonly size: number };
  /** Whether `VIRTIO_F_EVENT_IDX` was negotiated: the rings then carry their event fields. */
  readonly eventIdx: boolean;
}

/**
 * Decides whether a queue may go live when the driver writes 1 to
 * `QueueReady` (§4.2.3.2 step 7). In this order:
 *
 * 1. `QueueNum` was written: otherwise 4.2.3.2/D1, or 2.6.1.2.2/1 when the
 *    queue was reset through `QueueReset` and not set up again;
 * 2. it is a Queue Size (a power of two up to 32768, 2.7/D1) no larger than
 *    `QueueNumMax` (4.2.2.2/9);
 * 3. each area, in the order Descriptor, Driver, Device, starts on its
 *    alignment (16, 2, 4 bytes: 2.7.1/1) and lies wholly inside RAM
 *    (2.7.5/D2). The arithmetic is on 64-bit integers: an area may end exactly
 *    on RAM's last byte, one byte more is refused, and addresses above 2^53 or
 *    an area that would wrap past 2^64 are refused rather than rounded;
 * 4. no two areas overlap (2.7/D2): each is written by one side only, so a
 *    ring sized short (or placed on another) would have the device write
 *    over what the driver wrote. Areas may touch: one may start on the byte
 *    after another ends.
 *
 * The lengths are those the device will touch: with `VIRTIO_F_EVENT_IDX`
 * negotiated the rings' 2-byte event fields count, without it they do not.
 *
 * @param registers The queue's registers at the time of the write.
 * @param context Queue index, `QueueNumMax`, RAM and the negotiated event idx.
 * @returns The first problem found, or `null` if the queue is usable.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INITIAL_QUEUE_REGISTERS, queueAreaProblem } from "./queue_registers.ts";
 * const ram = { base: 0x4000_0000, size: 0x10_0000 };
 * const registers = {
 *   ...INITIAL_QUEUE_REGISTERS,
 *   num: 8,
 *   descLow: 0x4000_0008, // 8-byte aligned only
 *   driverLow: 0x4000_1000,
 *   deviceLow: 0x4000_2000,
 * };
 * const problem = queueAreaProblem(registers, { queue: 0, max: 256, ram, eventIdx: false });
 * assert.equal(problem?.id, "2.7.1/1");
 * ```
 */
export function queueAreaProblem(
  registers: QueueRegisters,
  context: QueueAreaContext,
): RuleProblem | null {
  const { queue, max, ram } = context;
  const num = registers.num;
  if (num === 0) {
    // After a queue reset every setting is back to its default, so the driver
    // must set the queue up again as at first discovery (2.6.1.2.2/1).
    return registers.wasReset
      ? problem(
        "2.6.1.2.2/1",
        `QueueReady set for queue ${queue} after a queue reset without setting it up again (no QueueNum)`,
        { queue },
      )
      : problem(
        "4.2.3.2/D1",
        `QueueReady set for queue ${queue} before a valid QueueNum was written`,
        { queue },
      );
  }
  if (!isValidQueueSize(num)) {
    return problem(
      "2.7/D1",
      `QueueReady set for queue ${queue} with QueueNum ${num}, not a power of two from 1 to 32768`,
      { queue, num },
    );
  }
  if (num > max) {
    return problem(
      "4.2.2.2/9",
      `QueueReady set for queue ${queue} with QueueNum ${num} above QueueNumMax ${max}`,
      { queue, num, max },
    );
  }
  const ramStart = BigInt(ram.base);
  const ramEnd = ramStart + BigInt(ram.size);
  const areas = queueAreas(registers, context.eventIdx);
  for (const area of areas) {
    const at = hex64(area.address);
    if (area.address % BigInt(area.align) !== 0n) {
      return problem(
        "2.7.1/1",
        `${area.name} of queue ${queue} at ${at} is not ${area.align}-byte aligned`,
        { queue, address: at, align: area.align },
      );
    }
    const end = area.address + BigInt(area.length);
    if (area.address < ramStart || end > ramEnd) {
      return problem(
        "2.7.5/D2",
        `${area.name} of queue ${queue} (${area.length} bytes at ${at}) is not inside guest RAM ` +
          `[${hex64(ramStart)}, ${hex64(ramEnd)})`,
        { queue, address: at, length: area.length },
      );
    }
  }
  for (let i = 0; i < areas.length; i++) {
    for (let j = i + 1; j < areas.length; j++) {
      const [a, b] = [areas[i], areas[j]];
      if (a.address < b.address + BigInt(b.length) && b.address < a.address + BigInt(a.length)) {
        return problem(
          "2.7/D2",
          `${a.name} of queue ${queue} (${a.length} bytes at ${hex64(a.address)}) overlaps its ` +
            `${b.name} (${b.length} bytes at ${hex64(b.address)})`,
          {
            queue,
            [camel(a.name)]: hex64(a.address),
            [camel(b.name)]: hex64(b.address),
          },
        );
      }
    }
  }
  return null;
}

/** `"Driver Area"` as a value name: `"driverArea"`. */
function camel(name: QueueArea["name"]): string {
  return name[0].toLowerCase() + name.slice(1).replace(" ", "");
}

/** One driver write to a queue register, with what the register file knows of the queue. */
export interface QueueRegisterWrite {
  /** The selected queue (`QueueSel`), for messages. */
  readonly queue: number;
  /** The register: `VIRTIO_MMIO_QUEUE_NUM`, one of the six address registers or `VIRTIO_MMIO_QUEUE_READY` (`QueueReset` goes to {@linkcode resetQueue}). */
  readonly offset: number;
  /** The value written (u32). */
  readonly value: number;
  /** The queue's `QueueNumMax`. */
  readonly max: number;
  /** Whether `VIRTIO_F_RING_RESET` was negotiated (`QueueReset` does nothing without it). */
  readonly ringReset: boolean;
}

/** One driver write to `QueueReset`, with what the register file knows of the queue. */
export interface QueueResetWrite {
  /** The selected queue (`QueueSel`), for messages. */
  readonly queue: number;
  /** The value written (u32): 1 asks for a reset. */
  readonly value: number;
  /** Whether `VIRTIO_F_RING_RESET` was negotiated: without it the register does nothing. */
  readonly ringReset: boolean;
}

/** What a queue register write does, for the register file to apply. */
export interface QueueRegisterOutcome {
  /** The queue's registers after the write (the input record itself when nothing changed). */
  readonly registers: QueueRegisters;
  /** `QueueReady` went from 0 to 1: the device takes the queue into use (at once if DRIVER_OK is set, else at DRIVER_OK). */
  readonly enabled: boolean;
  /** The queue was in use and is not any more (`QueueReady` 0, or `QueueReset`): the device stops touching it (4.2.2.1/7). */
  readonly stopped: boolean;
  /** `QueueReset` reset the queue (4.2.2.1/10): the device model drops its work on it. */
  readonly reset: boolean;
  /** Rules the write broke, in the order found, each with what the device did. */
  readonly problems: readonly RuleProblem[];
}

/**
 * Checks the area placement of a queue about to go live; {@linkcode
 * queueAreaProblem} with the queue's context bound.
 */
export type QueueAreaCheck = (registers: QueueRegisters) => RuleProblem | null;

/**
 * Decides what a driver's write to one of the selected queue's registers does
 * (§4.2.2, §4.2.3.2, §2.6.1):
 *
 * - a driver reconfiguring a queue it stopped or reset must first read the
 *   register back: `QueueReady` after writing 0 (4.2.2.2/11), `QueueReset`
 *   after writing 1 (4.2.2.2/14). Each lapse is reported once, the write goes
 *   on;
 * - while `QueueReady` is 1, `QueueNum` and the address registers keep their
 *   values (4.2.2.2/10: write ignored);
 * - `QueueNum` above `QueueNumMax` (4.2.2.2/9) or not a power of two from 1 to
 *   32768 (2.7/D1) is ignored;
 * - `QueueReady` = 0 stops the queue and must be read back; `QueueReady` = 1
 *   (any nonzero value) enables it only if `checkAreas` finds no problem,
 *   otherwise `QueueReady` stays 0;
 * - `QueueReset` is not decided here: the register file sends it to
 *   {@linkcode resetQueue}.
 *
 * @param registers The selected queue's registers before the write.
 * @param write The register, the value and what the device knows of the queue.
 * @param checkAreas The check to run when `QueueReady` is set (the register
 *   file passes {@linkcode queueAreaProblem} with the queue's context).
 * @returns The new registers, what changed, and the problems to log.
 * @throws {RangeError} If `write.offset` is not one of the registers above
 *   (the register file routes only those here).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INITIAL_QUEUE_REGISTERS, writeQueueRegister } from "./queue_registers.ts";
 * import { VIRTIO_MMIO_QUEUE_NUM } from "./mmio_registers.ts";
 * const write = { queue: 0, offset: VIRTIO_MMIO_QUEUE_NUM, value: 100, max: 256, ringReset: false };
 * const outcome = writeQueueRegister(INITIAL_QUEUE_REGISTERS, write, () => null);
 * assert.equal(outcome.problems[0].id, "2.7/D1"); // 100 is not a power of two
 * assert.equal(outcome.registers.num, 0); // the write was ignored
 * ```
 */
export function writeQueueRegister(
  registers: QueueRegisters,
  write: QueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): QueueRegisterOutcome {
  const { queue, offset, value } = write;
  const problems: RuleProblem[] = [];
  const unchanged = (): QueueRegisterOutcome => ({
    registers,
    enabled: false,
    stopped: false,
    reset: false,
    problems,
  });

  const field = ADDRESS_FIELDS[offset];
  if (
    field === undefined && offset !== VIRTIO_MMIO_QUEUE_NUM && offset !== VIRTIO_MMIO_QUEUE_READY
  ) {
    throw new RangeError(
      `Offset ${hex3(offset)} is not a queue register writeQueueRegister handles`,
    );
  }
  const name = findRegister(offset, 2)?.name ?? hex3(offset);

  if (offset === VIRTIO_MMIO_QUEUE_READY && value === 0) {
    // Stop using the queue (4.2.2.1/7); the driver must read QueueReady back
    // before it reuses the queue (4.2.2.2/11).
    return {
      registers: { ...registers, ready: false, stopUnconfirmed: true },
      enabled: false,
      stopped: registers.ready,
      reset: false,
      problems,
    };
  }
  if (offset === VIRTIO_MMIO_QUEUE_READY && registers.ready) return unchanged();

  let next = registers;
  if (next.resetUnconfirmed) {
    next = { ...next, resetUnconfirmed: false };
    problems.push(problem(
      "4.2.2.2/14",
      `Write to ${name} of queue ${queue} after QueueReset without reading QueueReset back ` +
        "to see the reset complete",
      { queue },
    ));
  }
  if (next.stopUnconfirmed) {
    next = { ...next, stopUnconfirmed: false };
    problems.push(problem(
      "4.2.2.2/11",
      `Write to ${name} of queue ${queue} after stopping it without reading QueueReady back`,
      { queue },
    ));
  }
  const keep = (): QueueRegisterOutcome => ({
    registers: next,
    enabled: false,
    stopped: false,
    reset: false,
    problems,
  });

  if (offset === VIRTIO_MMIO_QUEUE_READY) {
    const found = checkAreas(next);
    if (found) {
      problems.push({ ...found, action: "QueueReady stays 0" });
      return keep();
    }
    return {
      registers: { ...next, ready: true, wasReset: false },
      enabled: true,
      stopped: false,
      reset: false,
      problems,
    };
  }

  if (next.ready) {
    problems.push(problem(
      "4.2.2.2/10",
      `Write to ${name} of queue ${queue} while QueueReady is 1`,
      { queue, offset: hex3(offset), value },
      "write ignored",
    ));
    return keep();
  }
  if (offset === VIRTIO_MMIO_QUEUE_NUM) {
    if (value > write.max) {
      problems.push(problem(
        "4.2.2.2/9",
        `QueueNum ${value} for queue ${queue} exceeds QueueNumMax ${write.max}`,
        { queue, num: value, max: write.max },
        "write ignored",
      ));
      return keep();
    }
    if (!isValidQueueSize(value)) {
      problems.push(problem(
        "2.7/D1",
        `QueueNum ${value} for queue ${queue} is not a power of two from 1 to 32768`,
        { queue, num: value },
        "write ignored",
      ));
      return keep();
    }
    next = { ...next, num: value };
    return keep();
  }
  next = { ...next, [field!]: value >>> 0 };
  return keep();
}

/** The record fields the six address registers write. */
type AddressField =
  | "descLow"
  | "descHigh"
  | "driverLow"
  | "driverHigh"
  | "deviceLow"
  | "deviceHigh";

/** The record field each address register writes. */
const ADDRESS_FIELDS: Readonly<Record<number, AddressField>> = {
  [VIRTIO_MMIO_QUEUE_DESC_LOW]: "descLow",
  [VIRTIO_MMIO_QUEUE_DESC_HIGH]: "descHigh",
  [VIRTIO_MMIO_QUEUE_AVAIL_LOW]: "driverLow",
  [VIRTIO_MMIO_QUEUE_AVAIL_HIGH]: "driverHigh",
  [VIRTIO_MMIO_QUEUE_USED_LOW]: "deviceLow",
  [VIRTIO_MMIO_QUEUE_USED_HIGH]: "deviceHigh",
};

/**
 * Decides what a driver's write to `QueueReset` does (§2.6.1, §4.2.2; QEMU's
 * `virtio_queue_reset`):
 *
 * | the write                                              | the queue afterwards                                     |
 * | ------------------------------------------------------ | -------------------------------------------------------- |
 * | 1, `VIRTIO_F_RING_RESET` negotiated                    | reset: `{ ...INITIAL_QUEUE_REGISTERS, resetUnconfirmed: true, wasReset: true }`; `reset: true`, `stopped` when it was `ready` |
 * | 1 without `VIRTIO_F_RING_RESET`, or any other value    | unchanged (the same record), nothing reported            |
 *
 * A reset queue is back in its default state, its available and used state
 * included (2.6.1.1.1/2: the register file drops the device half, and the
 * device model its work on the queue, so nothing of the old queue is
 * executed or notified, 2.6.1.1.1/1); `QueueReady` reads 0 at once
 * (4.2.2.1/12). The reset is synchronous, so `QueueReset` reads 0 right away
 * (4.2.2.1/11 never applies); `resetUnconfirmed` records that the driver has
 * not yet read it back (4.2.2.2/14, which {@linkcode writeQueueRegister}
 * reports if the driver reconfigures first), and `wasReset` that the next
 * setup is a re-enable (2.6.1.2.2/1, checked as a first setup, sizes and
 * addresses free to differ: 4.2.2.2/16, 2.6.1.2.1/1).
 *
 * @param registers The selected queue's registers before the write.
 * @param write The queue, the value written and whether `VIRTIO_F_RING_RESET` was negotiated.
 * @returns The outcome, as for the other queue registers: `enabled` is always false and `problems` empty.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INITIAL_QUEUE_REGISTERS, resetQueue } from "./queue_registers.ts";
 * const live = { ...INITIAL_QUEUE_REGISTERS, num: 256, descLow: 0x4000_0000, ready: true };
 * const outcome = resetQueue(live, { queue: 0, value: 1, ringReset: true });
 * assert.equal(outcome.reset && outcome.stopped, true);
 * assert.equal(outcome.registers.ready || outcome.registers.num !== 0, false);
 * assert.equal(resetQueue(live, { queue: 0, value: 1, ringReset: false }).registers, live);
 * ```
 */
export function resetQueue(
  registers: QueueRegisters,
  write: QueueResetWrite,
): QueueRegisterOutcome {
  if (write.value !== 1 || !write.ringReset) {
    return { registers, enabled: false, stopped: false, reset: false, problems: [] };
  }
  return {
    registers: { ...INITIAL_QUEUE_REGISTERS, resetUnconfirmed: true, wasReset: true },
    enabled: false,
    stopped: registers.ready,
    reset: true,
    problems: [],
  };
}

/**
 * Joins two u32 register halves into a 64-bit address.
 *
 * @param low Bits 0..31.
 * @param high Bits 32..63.
 * @returns `high * 2^32 + low`, exact.
 */
export function join64(low: number, high: number): bigint {
  return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
}

function hex64(value: bigint): string {
  return `0x${value.toString(16)}`;
}

function problem(
  id: RequirementId,
  message: string,
  values: RuleProblem["values"],
  action?: string,
): RuleProblem {
  return action === undefined ? { id, message, values } : { id, message, values, action };
}
