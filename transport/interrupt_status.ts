/**
 * The device side of `InterruptStatus` and `InterruptACK` (virtio v1.2
 * §4.2.2, §4.2.2.1): how an event sets its bit and how the driver's
 * acknowledgement clears it, as pure functions over the register's value.
 *
 * Two events exist: a used buffer notification (bit 0,
 * `VIRTIO_MMIO_INT_VRING`) and a configuration change notification (bit 1,
 * `VIRTIO_MMIO_INT_CONFIG`). A bit stays set from its event until the driver
 * acknowledges it (4.2.2.1/3), no other bit is ever set (4.2.2.1/4), and the
 * interrupt line is high exactly while some bit is set.
 *
 * @module
 */

import * as status from "../virtio/status.ts";
import { hex8 } from "./mmio_registers.ts";
import * as registers from "./mmio_registers.ts";
import type { RuleProblem } from "./types.ts";

const {
  VIRTIO_MMIO_INT_MASK,
} = registers;

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  VIRTIO_CONFIG_S_DRIVER_OK,
} = status;

/** What raising an event does to `InterruptStatus`. */
export interface InterruptRaise {
  /** `InterruptStatus` afterwards. */
  readonly interruptStatus: number;
  /** Whether a notification was sent (the event's bit was set): count it. */
  readonly sent: boolean;
}

/**
 * Raises an event in `InterruptStatus`: ORs in its bit, keeping the bits of
 * events not acknowledged yet (4.2.2.1/3) and never setting an undefined bit
 * (4.2.2.1/4). Before the driver sets DRIVER_OK no notification is sent at all
 * (2.1.2/1; a configuration change is announced only to a live driver too,
 * as §2.1.2/2 does for DEVICE_NEEDS_RESET).
 *
 * @param interruptStatus `InterruptStatus` before.
 * @param event `VIRTIO_MMIO_INT_VRING` or `VIRTIO_MMIO_INT_CONFIG` (other bits are dropped).
 * @param status The device status byte.
 * @returns The new `InterruptStatus` and whether a notification was sent (a frozen
 *   record, shared between calls with the same answer).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { raiseInterrupt } from "./interrupt_status.ts";
 * import { VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_VRING } from "./mmio_registers.ts";
 * const DRIVER_OK = 0x04;
 * const raised = raiseInterrupt(VIRTIO_MMIO_INT_VRING, VIRTIO_MMIO_INT_CONFIG, 0x0f);
 * assert.deepEqual(raised, { interruptStatus: 0b11, sent: true });
 * assert.equal(raiseInterrupt(0, VIRTIO_MMIO_INT_VRING, 0x0f & ~DRIVER_OK).sent, false);
 * ```
 */
export function raiseInterrupt(
  interruptStatus: number,
  event: number,
  status: number,
): InterruptRaise {
  const current = interruptStatus & VIRTIO_MMIO_INT_MASK;
  const bit = event & VIRTIO_MMIO_INT_MASK;
  if (bit === 0 || (status & VIRTIO_CONFIG_S_DRIVER_OK) === 0) return NOT_SENT[current];
  return SENT[current | bit];
}

// Every verdict raiseInterrupt and acknowledgeInterrupt can give without a
// problem, made once and frozen (InterruptStatus holds two bits): the
// interrupt path allocates nothing for them.
const NOT_SENT: readonly InterruptRaise[] = [0, 1, 2, 3].map((interruptStatus) =>
  Object.freeze({ interruptStatus, sent: false })
);
const SENT: readonly InterruptRaise[] = [0, 1, 2, 3].map((interruptStatus) =>
  Object.freeze({ interruptStatus, sent: true })
);
const ACKNOWLEDGED: readonly InterruptAcknowledgement[] = [0, 1, 2, 3].map((interruptStatus) =>
  Object.freeze({ interruptStatus, problem: null })
);

/** What a write to `InterruptACK` does. */
export interface InterruptAcknowledgement {
  /** `InterruptStatus` afterwards. */
  readonly interruptStatus: number;
  /** The write set bits no event defines (4.2.2.2/13); they are ignored. */
  readonly problem: RuleProblem | null;
}

/**
 * Applies a driver's write to `InterruptACK`: the events it names are
 * acknowledged and their bits cleared; the others stay set (4.2.2.1/3).
 * Bits no event defines are reported (the driver must not set them,
 * 4.2.2.2/13) and change nothing.
 *
 * @param interruptStatus `InterruptStatus` before.
 * @param value The value written to `InterruptACK` (u32).
 * @returns The new `InterruptStatus`, and the problem if undefined bits were set (without
 *   one, a frozen record shared between calls with the same answer).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acknowledgeInterrupt } from "./interrupt_status.ts";
 * const ack = acknowledgeInterrupt(0b11, 0x101); // used buffer bit, plus bit 8
 * assert.equal(ack.interruptStatus, 0b10); // the config change is still pending
 * assert.equal(ack.problem?.id, "4.2.2.2/13");
 * ```
 */
export function acknowledgeInterrupt(
  interruptStatus: number,
  value: number,
): InterruptAcknowledgement {
  const undefinedBits = (value & ~VIRTIO_MMIO_INT_MASK) >>> 0;
  if (undefinedBits === 0) return ACKNOWLEDGED[interruptStatus & ~value & VIRTIO_MMIO_INT_MASK];
  return {
    interruptStatus: interruptStatus & ~value & VIRTIO_MMIO_INT_MASK,
    problem: {
      id: "4.2.2.2/13",
      message: `InterruptACK ${hex8(value)} sets undefined bits ${hex8(undefinedBits)}`,
      values: { value: hex8(value) },
      action: "undefined bits ignored",
    },
  };
}
