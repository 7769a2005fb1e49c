/**
 * A spurious-interrupt injector: interrupts a driver's handler must survive
 * although the device raised nothing, or not what they show. The interrupt
 * line of a virtio-mmio window may be shared, a device may notify although
 * the driver asked it not to (2.7.7.1/3), and `InterruptStatus` may hold
 * bits no event defines (the device's fault, 4.2.2.1/4, which the driver must
 * disregard, 4.2.2.2/12, and must not acknowledge, 4.2.2.2/13).
 *
 * - {@linkcode interruptInjector} wraps the register window a driver's
 *   handler reads: `InterruptStatus` reads the device's bits *or* the bits
 *   injected, until the driver acknowledges them; every `InterruptACK` value
 *   is recorded and passed on to the device, which judges it as it would any
 *   acknowledgement.
 * - {@linkcode SPURIOUS_INTERRUPTS}: the cases, as data, with the rule each is
 *   about and the acknowledgement the driver must write.
 * - {@linkcode spuriousMachineInterrupt}: an interrupt with nothing pending,
 *   delivered to a running lab machine's driver.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { RequirementId } from "../../conformance/requirements.ts";
import {
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_MASK,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
} from "../../transport/mmio_registers.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { MmioDriverTransport } from "../../transport/mmio_driver.ts";
import type { MmioDeviceTransport } from "../../transport/mmio_device.ts";

/** A window with injected interrupt bits, and what the driver did with them. */
export interface InterruptInjector {
  /**
   * The window to give the driver: the inner one, but `InterruptStatus` also reads the injected
   * bits.
   */
  readonly window: RegisterWindow;
  /**
   * Makes bits appear in `InterruptStatus` that the device did not set: they
   * read set until the driver writes them to `InterruptACK`.
   *
   * @param bits The bits (any of the 32; undefined ones too).
   */
  inject(bits: number): void;
  /** Injected bits not acknowledged yet. */
  readonly pending: number;
  /** Every value the driver wrote to `InterruptACK`, in order. */
  readonly acks: readonly number[];
  /** Every value `InterruptStatus` read, in order. */
  readonly statusReads: readonly number[];
}

/**
 * Wraps a window so that bits can be injected into `InterruptStatus` (see the
 * module documentation). Every other access goes to `inner` unchanged, and so
 * does every `InterruptACK` write.
 *
 * @param inner The window (a device fixture's, a scripted one, the bus's).
 * @returns The injector.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { handleInterrupt } from "../../transport/driver_interrupt.ts";
 * import { scriptedWindow } from "./mmio.ts";
 * import { interruptInjector } from "./interrupts.ts";
 *
 * const device = scriptedWindow(() => 0); // a device with nothing pending
 * const injector = interruptInjector(device.window);
 * injector.inject(0b101); // a used buffer bit the device did not set, and undefined bit 2
 * let used = 0;
 * handleInterrupt(injector.window, { configChanged() {}, usedBuffers: () => void used++ });
 * assert.deepEqual(injector.acks, [0b001]); // bit 2 is neither handled nor acknowledged
 * assert.equal(used, 1);
 * ```
 */
export function interruptInjector(inner: RegisterWindow): InterruptInjector {
  let pending = 0;
  const acks: number[] = [];
  const statusReads: number[] = [];
  const read32 = (offset: number) => {
    const value = inner.read32(offset) >>> 0;
    if (offset !== VIRTIO_MMIO_INTERRUPT_STATUS) return value;
    const status = (value | pending) >>> 0;
    statusReads.push(status);
    return status;
  };
  const write32 = (offset: number, value: number) => {
    if (offset === VIRTIO_MMIO_INTERRUPT_ACK) {
      acks.push(value >>> 0);
      pending = (pending & ~value) >>> 0;
    }
    inner.write32(offset, value);
  };
  return {
    window: {
      base: inner.base,
      size: inner.size,
      read32,
      read16: (o) => inner.read16(o),
      read8: (o) => inner.read8(o),
      write32,
      write16: (o, v) => inner.write16(o, v),
      write8: (o, v) => inner.write8(o, v),
    },
    inject(bits) {
      pending = (pending | bits) >>> 0;
    },
    get pending() {
      return pending;
    },
    acks,
    statusReads,
  };
}

/** One spurious interrupt, as data. */
export interface SpuriousInterrupt {
  /** What the driver meets, in words. */
  readonly name: string;
  /** Bits injected into `InterruptStatus` (0: the line fired with nothing pending). */
  readonly bits: number;
  /** The rule the case is about. */
  readonly rule: RequirementId;
  /**
   * What the driver must write to `InterruptACK` for the injected bits: the
   * defined ones it read; `0` means it writes nothing (or 0) for them.
   */
  readonly ack: number;
  /** The real bug or the reason behind the case. */
  readonly source?: string;
}

/** The cases: a shared line, events the device did not raise, bits no event defines. */
export const SPURIOUS_INTERRUPTS: readonly SpuriousInterrupt[] = Object.freeze(
  [
    {
      name: "an interrupt with InterruptStatus 0 (a shared line, or an event already handled)",
      bits: 0,
      rule: "2.7.7.1/3",
      ack: 0,
    },
    {
      name: "a used buffer notification with nothing new in the used ring",
      bits: VIRTIO_MMIO_INT_VRING,
      rule: "2.7.7.1/3",
      ack: VIRTIO_MMIO_INT_VRING,
    },
    {
      name: "a configuration change notification with nothing changed",
      bits: VIRTIO_MMIO_INT_CONFIG,
      rule: "2.7.7.1/3",
      ack: VIRTIO_MMIO_INT_CONFIG,
    },
    {
      name: "InterruptStatus with only undefined bit 2 set",
      bits: 1 << 2,
      rule: "4.2.2.2/12",
      ack: 0,
      source: "a device breaking 4.2.2.1/4; the driver must disregard the bit",
    },
    {
      name: "InterruptStatus with bit 31 set (negative as a signed 32-bit value)",
      bits: 0x8000_0000,
      rule: "4.2.2.2/12",
      ack: 0,
    },
    {
      name: "a used buffer bit together with undefined bit 4",
      bits: VIRTIO_MMIO_INT_VRING | (1 << 4),
      rule: "4.2.2.2/13",
      ack: VIRTIO_MMIO_INT_VRING,
    },
    {
      name: "both defined bits and every undefined one",
      bits: 0xffff_ffff,
      rule: "4.2.2.2/13",
      ack: VIRTIO_MMIO_INT_MASK,
    },
  ] satisfies SpuriousInterrupt[],
);

/** What a running machine's driver did with an interrupt that found nothing pending. */
export interface MachineSpuriousInterrupt {
  /** `InterruptStatus` bits the device had pending (the interrupt is spurious when 0). */
  readonly pendingBefore: number;
  /** Whether the driver counted it as spurious (its `spuriousInterrupts` moved). */
  readonly counted: boolean;
  /** What the handler threw, if anything (it must not throw). */
  readonly threw?: unknown;
}

/**
 * Delivers an interrupt to a running lab machine's driver for one device
 * while the device has nothing pending (as a shared line does): the driver's
 * handler runs, reads `InterruptStatus` 0, and must count it as spurious and
 * change nothing. If the device does have bits pending, the interrupt is a
 * real one (and `pendingBefore` says so).
 *
 * @param device A machine device (`machine.blk`, `machine.console`).
 * @returns What happened.
 */
export function spuriousMachineInterrupt(device: {
  readonly transport: MmioDeviceTransport;
  readonly driverTransport: MmioDriverTransport;
}): MachineSpuriousInterrupt {
  const pendingBefore = device.transport.interruptStatus;
  const before = device.driverTransport.spuriousInterrupts;
  try {
    device.driverTransport.handleInterrupt();
  } catch (threw) {
    return { pendingBefore, counted: false, threw };
  }
  return { pendingBefore, counted: device.driverTransport.spuriousInterrupts === before + 1 };
}
