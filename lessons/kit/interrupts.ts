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
 * - {@linkcode expectQuietMachine}: once a machine is idle, every interrupt
 *   was acknowledged, nothing waits in a used ring, and an interrupt with
 *   nothing pending is shrugged off.
 * - {@linkcode HANDLER_CASES}, {@linkcode runHandler} and
 *   {@linkcode handlerSubject}: a driver's interrupt handler on the lab's
 *   register file behind the injector, the spurious cases plus real events
 *   and an event raised again while a handler runs, with everything it did
 *   in order; as the subject of rule rows.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { RequirementId } from "../../conformance/requirements.ts";
import type { InterruptHandlers, InterruptResult } from "../../transport/driver_interrupt.ts";
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
import { expectEqual } from "../../course/grader.ts";
import type { LabMachine } from "../../machine.ts";
import { interruptBits, offset, register } from "./format.ts";
import { failOnViolations } from "./log.ts";
import { deviceFixture } from "./mmio.ts";
import type { Subject } from "./rules.ts";

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

/** An interrupt a handler meets, as data: what `InterruptStatus` shows, and what happens meanwhile. */
export interface HandlerCase {
  /** What the handler meets, in words. */
  readonly name: string;
  /** `InterruptStatus` bits the handler finds (injected; the device itself has nothing pending). */
  readonly bits: number;
  /** An event the device raises while one of the handlers runs (its bit is set again). */
  readonly during?: {
    readonly handler: keyof InterruptHandlers;
    readonly raise: number;
  };
}

/**
 * The cases: every spurious one, both events at once, and an event raised
 * while a handler runs (a used buffer while `usedBuffers` reaps, one while
 * `configChanged` runs, a configuration change while `usedBuffers` reaps),
 * which only a handler that acknowledged before handling keeps pending.
 */
export const HANDLER_CASES: readonly HandlerCase[] = Object.freeze(
  [
    ...SPURIOUS_INTERRUPTS.map((c) => ({ name: c.name, bits: c.bits })),
    { name: "both events", bits: VIRTIO_MMIO_INT_MASK },
    {
      name: "a used buffer notification, and another used buffer while usedBuffers reaps",
      bits: VIRTIO_MMIO_INT_VRING,
      during: { handler: "usedBuffers", raise: VIRTIO_MMIO_INT_VRING },
    },
    {
      name: "a configuration change, and a used buffer while configChanged runs",
      bits: VIRTIO_MMIO_INT_CONFIG,
      during: { handler: "configChanged", raise: VIRTIO_MMIO_INT_VRING },
    },
    {
      name: "both events, and a configuration change while usedBuffers reaps",
      bits: VIRTIO_MMIO_INT_MASK,
      during: { handler: "usedBuffers", raise: VIRTIO_MMIO_INT_CONFIG },
    },
  ] satisfies HandlerCase[],
);

/** What a handler did with one case. */
export interface HandlerRun {
  /**
   * Everything it did, in order: `read InterruptStatus (0x060) = 0x1 (used buffer)`,
   * `write InterruptACK (0x064) = 0x1 (used buffer)`, `usedBuffers()`...
   */
  readonly trace: readonly string[];
  /** What it returned. */
  readonly result: { readonly status: unknown; readonly acknowledged: unknown };
  /** Injected bits still pending afterwards (an event raised meanwhile must be). */
  readonly pending: number;
  /** The values it wrote to `InterruptACK`. */
  readonly acks: readonly number[];
  /** The bits it acknowledged before it called any handler (the OR of those writes). */
  readonly ackedFirst: number;
  /** Writes to `InterruptACK` once a handler had been called, with the bits they named. */
  readonly lateAcks: readonly number[];
  /** The handlers it called, sorted. */
  readonly calls: readonly string[];
}

/** A driver's interrupt handler: `handleInterrupt`'s signature. */
export type InterruptHandlerPart = (
  window: RegisterWindow,
  handlers: InterruptHandlers,
) => InterruptResult;

/**
 * Runs a handler on one case: the lab's block device register file (strict
 * log, nothing pending of its own) behind an {@linkcode interruptInjector}
 * holding the case's bits; every access and handler call is traced. An
 * acknowledgement with undefined bits reaches the device, whose strict log
 * throws it as a violation of 4.2.2.2/13.
 *
 * @param part The handler.
 * @param c The case.
 * @returns What it did.
 */
export function runHandler(part: InterruptHandlerPart, c: HandlerCase): HandlerRun {
  const injector = interruptInjector(deviceFixture().raw);
  injector.inject(c.bits);
  const trace: string[] = [];
  const lateAcks: number[] = [];
  let ackedFirst = 0;
  let handled = false;
  const inner = injector.window;
  const seen = (what: string) => void trace.push(what);
  const window: RegisterWindow = {
    ...inner,
    read32(o) {
      const v = inner.read32(o);
      seen(`read ${register(o)} = ${interruptBits(v)}`);
      return v;
    },
    write32(o, v) {
      seen(`write ${register(o)} = ${interruptBits(v)}`);
      if (o === VIRTIO_MMIO_INTERRUPT_ACK) {
        if (handled) lateAcks.push(v >>> 0);
        else ackedFirst = (ackedFirst | v) >>> 0;
      }
      inner.write32(o, v);
    },
    read16: (o) => (seen(`16-bit read at ${offset(o)}`), inner.read16(o)),
    read8: (o) => (seen(`8-bit read at ${offset(o)}`), inner.read8(o)),
    write16: (o, v) => (seen(`16-bit write at ${offset(o)}`), inner.write16(o, v)),
    write8: (o, v) => (seen(`8-bit write at ${offset(o)}`), inner.write8(o, v)),
  };
  const handler = (name: keyof InterruptHandlers) => () => {
    handled = true;
    seen(`${name}()`);
    if (c.during?.handler === name) injector.inject(c.during.raise);
  };
  const result = part(window, {
    usedBuffers: handler("usedBuffers"),
    configChanged: handler("configChanged"),
  });
  return {
    trace,
    result: { status: result?.status, acknowledged: result?.acknowledged },
    pending: injector.pending,
    acks: [...injector.acks],
    ackedFirst,
    lateAcks,
    calls: trace.filter((t) => t.endsWith("()")).sort(),
  };
}

/**
 * The subject of interrupt handler rows: the learner's handler against the
 * reference one, on {@linkcode HANDLER_CASES} (give them to a row as
 * `every(HANDLER_CASES.map((c) => [c]))`).
 *
 * @param learner The learner's handler, from their module.
 * @param reference The reference handler.
 */
export function handlerSubject<I>(
  learner: (impl: I) => InterruptHandlerPart,
  reference: InterruptHandlerPart,
): Subject<I, [HandlerCase], HandlerRun> {
  return {
    run: (impl, c) => runHandler(learner(impl), c),
    reference: (c) => runHandler(reference, c),
    show: (c) => `handleInterrupt(window, handlers) on ${c.name}`,
    verb: "did",
    result: (r) =>
      `${r.trace.join(", ") || "nothing"}; returned { status: ${
        interruptBits(Number(r.result.status ?? 0))
      }, acknowledged: ${interruptBits(Number(r.result.acknowledged ?? 0))} }; pending ` +
      `afterwards ${interruptBits(r.pending)}`,
  };
}

/**
 * Fails unless a running machine goes quiet: once it is idle, no rule was
 * broken on the way (an interrupt storm is logged as 4.2.3.4.1/3), every
 * device's `InterruptStatus` reads 0 (every event acknowledged), an
 * interrupt delivered with nothing pending is counted as spurious and throws
 * nothing (2.7.7.1/3), and no queue has used entries waiting unreaped
 * (2.7.14/D1). For a machine check's `also`.
 *
 * @param machine The machine, after its traffic.
 */
export async function expectQuietMachine(machine: LabMachine): Promise<void> {
  await machine.idle();
  failOnViolations(machine.log, "the machine going idle", "no interrupt storm and no rule broken");
  for (const d of [machine.blk, machine.console]) {
    const idle = `${d.device.name} on an idle machine`;
    expectEqual(interruptBits(d.transport.interruptStatus), "0x0", `InterruptStatus of ${idle}`, {
      requirement: "4.2.3.4.1/3",
      requires: `every event acknowledged: InterruptStatus of ${idle} to read 0x0`,
    });
    const spurious = spuriousMachineInterrupt(d);
    expectEqual(
      { counted: spurious.counted, threw: "threw" in spurious },
      { counted: true, threw: false },
      `what the driver did with an interrupt that found nothing pending, ${idle}`,
      { requirement: "2.7.7.1/3" },
    );
    const waiting = [...d.driverTransport.queues].filter(([, q]) => q.hasUsed()).map(([i]) => i);
    expectEqual(waiting, [], `the queues with used entries waiting, ${idle}`, {
      requirement: "2.7.14/D1",
    });
  }
}
