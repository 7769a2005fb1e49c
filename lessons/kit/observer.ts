/**
 * Concurrent observers: the other half of the ring, run after **every single
 * store** the side under test makes, the way a device on another CPU (or a
 * driver on another CPU) could look at memory between any two of them. In
 * this single-threaded lab nothing can be reordered, but the *order of
 * stores* a barrier protects is still observable, and so are the rules built
 * on it:
 *
 * | observer                     | runs after each     | reports                                         |
 * | ---------------------------- | ------------------- | ----------------------------------------------- |
 * | {@linkcode observeDriver}    | store of the driver | 2.7.13.3.1/1: a chain taken before it was whole |
 * | {@linkcode observeDevice}    | store of the device | 2.7.8.2/1: an entry reaped before it was whole  |
 * | {@linkcode notificationRace} | load of the driver  | 2.7.13.4.1/1: a notification lost               |
 * | {@linkcode reenableRace}     | store of the device | 2.7.10/D1: chains stranded by a re-enable       |
 * | {@linkcode callbackRace}     | load of the driver  | 2.7.14/D1: a used buffer stranded               |
 *
 * (A chain taken before it was whole: its slot or a descriptor was stored
 * after the `idx` that published it. An entry reaped before it was whole:
 * its `id` or `len` was stored after the used `idx`. A notification lost:
 * `used.flags` or `avail_event` read before the `idx` store. Chains
 * stranded: the device read the available `idx` before the store that turned
 * notifications back on, or never. A used buffer stranded: returned while
 * the driver had notifications off, and neither seen by its last read of the
 * used `idx` nor announced.)
 *
 * How the store observers work. After each store, the observer copies guest
 * memory into a scratch memory and runs the reference half there (the
 * reference device parts pop every chain the driver has published; the
 * reference driver's `getBuf` reaps every entry the device has returned), so
 * the real memory and the real halves are never touched. What the concurrent
 * half read to take a chain or an entry is then *taken*, and a later store
 * into it proves that the other side could have read it before it was
 * written: that store, and the store after which it was taken, are the
 * finding.
 *
 * - The fields of a chain's descriptors and indirect entries (leaving out a
 *   `next` the flags say to ignore) are the device's until the chain's head
 *   comes back in the used ring: the driver must not store into them before.
 * - An available slot may be stored again for the next lap as soon as the
 *   device has read it, so a slot is checked by freshness instead: a take of
 *   a slot the driver has not stored since its previous take is *suspect*
 *   (it may hold the previous lap's head), and a store into a suspect slot
 *   proves it did. (A driver that never rewrites a slot holding the right
 *   head is never blamed.)
 * - A used element is the driver's until the available ring has gone a lap
 *   past it (only then may the device need the slot again).
 *
 * A rule the concurrent half saw broken at some moment (a garbage head, a
 * zero-length descriptor read too early, a torn `idx`) is a finding of its
 * own, with the id it reported, unless a late store explains it;
 * {@linkcode StoreOrderObserver.finish} reports those. Every step of the
 * observed side must run inside {@linkcode StoreOrderObserver.during}: the
 * observer only sees stores made there.
 *
 * `ring_checks.ts` turns the observers into grader checks (`storeOrderCheck`,
 * `kickRaceCheck`) on a seeded workload.
 *
 * Findings go to a conformance reporter (by default the fixture's log,
 * scoped `"concurrent device"` or `"concurrent driver"`), as any check of the
 * other side does: a strict log throws the first one out of the store that
 * revealed it.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { ConformanceLog, type ConformanceReporter, type Violation } from "../../conformance/log.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_SIZE } from "../../virtqueue/constants.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import {
  availRingEntryOffset,
  descTableSize,
  usedElemOffset,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
  VIRTQ_USED_ELEM_ID_OFFSET,
  VIRTQ_USED_FLAGS_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "../../virtqueue/layout.ts";
import {
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
} from "../../virtqueue/parts.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import { memoryAccess, ringIdx } from "./format.ts";
import type { RingFixture } from "./ring.ts";
import { type MemoryAccess, SnoopingMemory, touches } from "./snoop.ts";

/** One thing a concurrent observer saw. */
export interface OrderFinding {
  /**
   * The rule broken: 2.7.13.3.1/1, 2.7.8.2/1, 2.7.13.4.1/1, or what the concurrent half reported.
   */
  readonly id: RequirementId;
  /** What happened, in words, with the stores involved. */
  readonly message: string;
  /**
   * The store after which the concurrent half read the byte (`null` if before any store of the
   * step).
   */
  readonly seenAfter: MemoryAccess | null;
  /** The store that came too late (`null` for a rule seen broken at a moment). */
  readonly lateStore: MemoryAccess | null;
  /** Free-running ring position of the chain or entry involved. */
  readonly position: number;
}

/**
 * A store observer: the concurrent half of {@linkcode observeDriver} or {@linkcode observeDevice}.
 */
export interface StoreOrderObserver {
  /**
   * Findings so far (ordering findings at once; rules seen broken only after {@linkcode finish}).
   */
  readonly findings: readonly OrderFinding[];
  /** How many times the concurrent half ran (once per store of the observed side). */
  readonly observations: number;
  /** Chains (or used entries) the concurrent half took. */
  readonly taken: number;
  /**
   * Runs a step of the observed side: every store it makes is followed by
   * the concurrent half. Only the observed side may run inside (a store by
   * the other half would be blamed on it).
   *
   * @param step The step (the learner's part, a queue method...).
   * @returns What the step returned.
   */
  during<R>(step: () => R): R;
  /**
   * Stops observing, reports the rules the concurrent half saw broken that no
   * late store explains, and returns every finding.
   */
  finish(): readonly OrderFinding[];
}

/** Options for the store observers. */
export interface ObserverOptions {
  /** Where findings are reported (default: the fixture's log, scoped to the concurrent half). */
  readonly reporter?: ConformanceReporter;
}

/** What the concurrent half took, byte by byte. */
interface Taken {
  readonly position: number;
  /** The head whose chain holds the byte (driver observer), or -1. */
  readonly head: number;
  /** The store after which the byte was read. */
  readonly after: MemoryAccess | null;
  /** The load that read it. */
  readonly load: MemoryAccess;
}

/** A rule the concurrent half saw broken, waiting to see whether a late store explains it. */
interface Pending {
  readonly violation: Violation;
  readonly position: number;
  readonly after: MemoryAccess | null;
}

/** The scratch copy of guest memory the concurrent half runs on. */
function scratchOf(memory: GuestMemory): SnoopingMemory {
  return new SnoopingMemory(memory.size, { base: memory.base });
}

function refresh(scratch: SnoopingMemory, live: GuestMemory): void {
  const bytes = live instanceof SnoopingMemory
    ? live.quietly(() => live.bytes(live.base, live.size))
    : live.bytes(live.base, live.size);
  scratch.quietly(() => scratch.write(scratch.base, bytes));
}

function stored(s: MemoryAccess | null): string {
  return s === null ? "before the step's first store" : `after store #${s.seq}`;
}

/**
 * Runs the reference device half after every store the driver makes (see the
 * module documentation) and reports, citing 2.7.13.3.1/1, the first store
 * that wrote an available slot, a descriptor or an indirect entry of a chain
 * the device could already have taken: the driver published `idx` before the
 * chain was complete.
 *
 * The concurrent device starts where the fixture's device half is
 * (`lastAvail`); a chain is the device's until its head comes back in the
 * used ring (written by whatever plays the device in the scenario).
 *
 * @param f The fixture (its memory is a `SnoopingMemory`).
 * @param options Where findings go.
 * @returns The observer: run the driver's steps in {@linkcode StoreOrderObserver.during}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ringFixture } from "./ring.ts";
 * import { observeDriver } from "./observer.ts";
 *
 * const f = ringFixture({ startIdx: 0xfffe });
 * const observer = observeDriver(f);
 * const buf = f.buffer(512);
 * observer.during(() => {
 *   for (let i = 0; i < 4; i++) f.driverQueue.add([], [buf], `read ${i}`);
 *   f.driverQueue.kickPrepare();
 * });
 * assert.deepEqual(observer.finish(), []); // the reference driver stores idx last
 * assert.equal(observer.taken, 4);
 * ```
 */
export function observeDriver<T>(
  f: RingFixture<T>,
  options: ObserverOptions = {},
): StoreOrderObserver {
  const reporter = options.reporter ?? f.log.scoped("concurrent device");
  const memory = f.memory;
  const scratch = scratchOf(memory);
  const scratchLog = new ConformanceLog();
  const { descAddr, availAddr, usedAddr } = f.addresses;
  const size = f.size;
  const device = new SplitQueueDevice(
    {
      memory: scratch,
      index: 0,
      size,
      eventIdx: f.eventIdx,
      indirect: f.indirect,
      ...f.addresses,
      reporter: scratchLog.scoped("concurrent device"),
    },
    () => {},
    { parts: REFERENCE_SPLIT_RING_DEVICE_PARTS, startIdx: f.device.lastAvail },
  );
  const ring = device.ring;
  const taken = new Map<number, Taken>();
  const byHead = new Map<number, number[]>();
  const findings: OrderFinding[] = [];
  const pending: Pending[] = [];
  let usedSeen = memory.quietly(() => memory.readU16(usedAddr + VIRTQ_USED_IDX_OFFSET));
  let observations = 0;
  let chains = 0;
  let active = false;

  const releaseReturned = () => {
    const usedIdx = memory.readU16(usedAddr + VIRTQ_USED_IDX_OFFSET);
    for (let n = 0; usedSeen !== usedIdx && n <= 0xffff; n++) {
      const id = memory.readU32(
        usedAddr + usedElemOffset(usedSeen & (size - 1)) +
          VIRTQ_USED_ELEM_ID_OFFSET,
      );
      for (const b of byHead.get(id) ?? []) taken.delete(b);
      byHead.delete(id);
      usedSeen = (usedSeen + 1) & 0xffff;
    }
  };

  // Available slots: when each was last stored (during a step) and last taken, by `seq`.
  // A take of a slot not stored since its previous take is suspect: the value
  // may be the previous lap's. A store into a suspect slot proves it was.
  const slotStored = new Float64Array(size);
  const slotTaken = new Float64Array(size);
  const suspect: (Taken | null)[] = new Array(size).fill(null);
  const slotsStart = availAddr + availRingEntryOffset(0);
  const slotsEnd = availAddr + availRingEntryOffset(size);

  /**
   * Records what a pop read: the slot (fresh or suspect), and the bytes of
   * the chain's descriptors and indirect entries (not an ignored `next`).
   *
   * @returns Whether the pop got as far as reading a slot.
   */
  const take = (loads: readonly MemoryAccess[], position: number, after: MemoryAccess | null) => {
    const slot = position & (size - 1);
    const slotLoad = loads.find((l) => l.address === slotsStart + 2 * slot);
    if (slotLoad === undefined) return false;
    const head = Number(slotLoad.value);
    suspect[slot] = slotStored[slot] > slotTaken[slot]
      ? null
      : { position, head, after, load: slotLoad };
    slotTaken[slot] = memory.accesses;
    const tables = [{ start: descAddr, bytes: descTableSize(size) }];
    if (ring.indirectDesc.index >= 0 && Number.isFinite(ring.indirectDesc.addr)) {
      tables.push({ start: ring.indirectDesc.addr, bytes: ring.indirectDesc.len });
    }
    const valueAt = new Map<number, number>();
    for (const l of loads) valueAt.set(l.address, Number(l.value));
    const bytes = byHead.get(head) ?? [];
    for (const l of loads) {
      const table = tables.find((t) => l.address >= t.start && l.address < t.start + t.bytes);
      if (table === undefined) continue;
      const offset = (l.address - table.start) % VIRTQ_DESC_SIZE;
      if (offset === VIRTQ_DESC_NEXT_OFFSET) {
        const flags = valueAt.get(l.address - VIRTQ_DESC_NEXT_OFFSET + VIRTQ_DESC_FLAGS_OFFSET);
        if (flags !== undefined && (flags & VIRTQ_DESC_F_NEXT) === 0) continue;
      }
      for (let b = l.address; b < l.address + l.width; b++) {
        taken.set(b, { position, head, after, load: l });
        bytes.push(b);
      }
    }
    byHead.set(head, bytes);
    return true;
  };

  const observe = (after: MemoryAccess | null) => {
    observations++;
    releaseReturned();
    refresh(scratch, memory);
    for (let n = 0; n <= size; n++) {
      const position = ring.lastAvail;
      const before = scratchLog.entries.length;
      const loads = scratch.record(true);
      const chain = device.pop();
      scratch.record(false);
      const violation = scratchLog.entries.length > before ? scratchLog.entries.at(-1)! : null;
      if (chain === null && violation === null) break; // nothing more is available
      const tookSlot = take(loads, position, after);
      ring.indirectDesc.index = -1;
      if (chain !== null) {
        // The concurrent device only looks: the chain is not kept in use.
        ring.inUse[chain.head] = 0;
        ring.inFlight--;
        chains++;
        continue;
      }
      ring.broken = null;
      const last = pending.at(-1);
      if (!(last && last.position === position && last.violation.id === violation!.id)) {
        pending.push({ violation: violation!, position, after });
      }
      if (!tookSlot) break; // idx itself is wrong: look again after the next store
      if (ring.lastAvail === position) ring.lastAvail = (position + 1) & 0xffff;
    }
  };

  const report = (t: Taken, s: MemoryAccess, what: string) => {
    const finding: OrderFinding = {
      id: "2.7.13.3.1/1",
      message: `${stored(t.after)}, a concurrent device took available ring position ` +
        `${ringIdx(t.position, size)} (head ${t.head}) and read ${what} ` +
        `(${memoryAccess(t.load)}); store #${s.seq} (${memoryAccess(s, f.place)}) came ` +
        "only afterwards: the available idx was published before the chain was written",
      seenAfter: t.after,
      lateStore: s,
      position: t.position,
    };
    for (let i = pending.length - 1; i >= 0; i--) {
      if (pending[i].position === t.position) pending.splice(i, 1);
    }
    findings.push(finding);
    reporter.report(finding.id, finding.message, {
      position: t.position,
      head: t.head,
      seenAfterStore: t.after?.seq ?? 0,
      lateStore: s.seq,
      address: s.address,
    }, "the chain the device took was not the one the driver meant");
  };

  const late = (s: MemoryAccess) => {
    releaseReturned();
    let found = false;
    const first = Math.max(s.address, slotsStart);
    const last = Math.min(s.address + s.width, slotsEnd);
    for (let b = first; b < last; b++) {
      const slot = (b - slotsStart) >> 1;
      slotStored[slot] = s.seq;
      const t = suspect[slot];
      if (t === null) continue;
      suspect[slot] = null;
      if (!found) report(t, s, f.place(t.load.address) ?? "its slot");
      found = true;
    }
    if (found) return;
    for (let b = s.address; b < s.address + s.width; b++) {
      const t = taken.get(b);
      if (t === undefined) continue;
      for (const bb of byHead.get(t.head) ?? []) taken.delete(bb);
      byHead.delete(t.head);
      report(t, s, f.place(t.load.address) ?? "a byte of the chain");
      return;
    }
  };

  const stop = memory.onStore((s) => {
    if (!active) return;
    late(s);
    if (s.kind === "store") observe(s);
  });

  return observerOf(
    findings,
    pending,
    reporter,
    () => observations,
    () => chains,
    (on) => {
      if (on) memory.quietly(() => observe(null));
      active = on;
    },
    stop,
    (p) =>
      `${stored(p.after)}, a concurrent device took available ring position ` +
      `${ringIdx(p.position, size)} and found a rule broken: ${p.violation.message}`,
  );
}

/**
 * Runs the reference driver half after every store the device makes (see
 * the module documentation) and reports, citing 2.7.8.2/1, the first store
 * that wrote a used element the driver could already have reaped: the device
 * moved the used `idx` before the element (or its `len`) was written.
 *
 * The concurrent driver is a copy of the fixture's driver record, taken
 * afresh at each store, reaping with the reference `getBuf` from the
 * record's `lastUsed` on; an element is the driver's until the available
 * ring has gone a whole lap past it (only then may the device reuse the slot).
 *
 * @param f The fixture (its memory is a `SnoopingMemory`).
 * @param options Where findings go.
 * @returns The observer: run the device's steps in {@linkcode StoreOrderObserver.during}.
 */
export function observeDevice<T>(
  f: RingFixture<T>,
  options: ObserverOptions = {},
): StoreOrderObserver {
  const reporter = options.reporter ?? f.log.scoped("concurrent driver");
  const memory = f.memory;
  const scratch = scratchOf(memory);
  const { availAddr, usedAddr } = f.addresses;
  const size = f.size;
  const taken = new Map<number, Taken>();
  const findings: OrderFinding[] = [];
  const pending: Pending[] = [];
  let upTo = f.driver.lastUsed; // positions before it are taken
  let observations = 0;
  let entries = 0;
  let active = false;
  const elemStart = usedAddr + usedElemOffset(0);
  const elemEnd = usedAddr + usedElemOffset(size);

  const observe = (after: MemoryAccess | null) => {
    observations++;
    refresh(scratch, memory);
    const log = new ConformanceLog();
    const clone = cloneDriverRing(f.driver, scratch, log.scoped("concurrent driver"));
    const { getBuf, detachChain } = REFERENCE_SPLIT_RING_DRIVER_PARTS;
    const detach = (head: number) => detachChain(clone, head, () => {});
    for (let n = 0; n <= size; n++) {
      const position = clone.lastUsed;
      const loads = scratch.record(true);
      const used = getBuf(clone, detach);
      scratch.record(false);
      if (used === null && clone.broken === null) break;
      const fresh = ((position - upTo) & 0xffff) < 0x8000;
      if (fresh) {
        for (const l of loads) {
          if (l.address < elemStart || l.address >= elemEnd) continue;
          for (let b = l.address; b < l.address + l.width; b++) {
            taken.set(b, { position, head: -1, after, load: l });
          }
        }
      }
      if (clone.broken !== null) {
        if (fresh && !pending.some((p) => p.position === position)) {
          pending.push({ violation: clone.broken, position, after });
        }
        break;
      }
      if (fresh) {
        upTo = (position + 1) & 0xffff;
        entries++;
      }
    }
  };

  const late = (s: MemoryAccess) => {
    for (let b = s.address; b < s.address + s.width; b++) {
      const t = taken.get(b);
      if (t === undefined) continue;
      const availIdx = memory.readU16(availAddr + VIRTQ_AVAIL_IDX_OFFSET);
      const forget = () => {
        for (const [bb, tt] of [...taken]) if (tt.position === t.position) taken.delete(bb);
      };
      if (((availIdx - t.position) & 0xffff) > size) {
        forget(); // the available ring went a lap: the device may reuse the slot
        continue;
      }
      const finding: OrderFinding = {
        id: "2.7.8.2/1",
        message: `${stored(t.after)}, a concurrent driver reaped used ring position ` +
          `${ringIdx(t.position, size)} and read ${f.place(t.load.address) ?? "its element"} ` +
          `(${memoryAccess(t.load)}); store #${s.seq} (${memoryAccess(s, f.place)}) came only ` +
          "afterwards: the used idx moved before the element was written",
        seenAfter: t.after,
        lateStore: s,
        position: t.position,
      };
      forget();
      for (let i = pending.length - 1; i >= 0; i--) {
        if (pending[i].position === t.position) pending.splice(i, 1);
      }
      findings.push(finding);
      reporter.report(finding.id, finding.message, {
        position: t.position,
        seenAfterStore: t.after?.seq ?? 0,
        lateStore: s.seq,
        address: s.address,
      }, "the entry the driver reaped was not the one the device meant");
      return;
    }
  };

  const stop = memory.onStore((s) => {
    if (!active) return;
    late(s);
    if (s.kind === "store") observe(s);
  });

  return observerOf(
    findings,
    pending,
    reporter,
    () => observations,
    () => entries,
    (on) => {
      if (on) memory.quietly(() => observe(null));
      active = on;
    },
    stop,
    (p) =>
      `${stored(p.after)}, a concurrent driver reaped used ring position ` +
      `${ringIdx(p.position, size)} and found a rule broken: ${p.violation.message}`,
  );
}

function observerOf(
  findings: OrderFinding[],
  pending: Pending[],
  reporter: ConformanceReporter,
  observations: () => number,
  taken: () => number,
  activate: (on: boolean) => void,
  stop: () => void,
  describePending: (p: Pending) => string,
): StoreOrderObserver {
  let finished = false;
  return {
    findings,
    get observations() {
      return observations();
    },
    get taken() {
      return taken();
    },
    during<R>(step: () => R): R {
      if (finished) throw new Error("This observer has finished; make a new one");
      activate(true);
      try {
        return step();
      } finally {
        activate(false);
      }
    },
    finish() {
      if (finished) return findings;
      finished = true;
      stop();
      for (const p of pending.splice(0)) {
        const finding: OrderFinding = {
          id: p.violation.id,
          message: describePending(p),
          seenAfter: p.after,
          lateStore: null,
          position: p.position,
        };
        findings.push(finding);
        reporter.report(finding.id, finding.message, {
          position: p.position,
          seenAfterStore: p.after?.seq ?? 0,
        }, "seen by the concurrent half");
      }
      return findings;
    },
  };
}

/**
 * A copy of a driver ring record over another memory: every typed array and
 * array copied, everything else shared, `broken` cleared. The copy can be
 * reaped without touching the original.
 */
function cloneDriverRing<T>(
  ring: SplitDriverRing<T>,
  memory: GuestMemory,
  reporter: ConformanceReporter,
): SplitDriverRing<T> {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ring)) {
    copy[key] = ArrayBuffer.isView(value)
      ? (value as unknown as { slice(): unknown }).slice()
      : Array.isArray(value)
      ? value.slice()
      : value;
  }
  copy.memory = memory;
  copy.reporter = reporter;
  copy.broken = null;
  return copy as unknown as SplitDriverRing<T>;
}

/** What {@linkcode notificationRace} found once the driver's step returned. */
export interface RaceResult {
  /** What the step returned: whether the driver will notify the device. */
  readonly kicked: boolean;
  /** Whether the driver read the suppression field during the step. */
  readonly read: boolean;
  /**
   * Whether the concurrent device, turning notifications back on right
   * after that read, already saw the new chains (then no notification is needed).
   */
  readonly deviceSawChains: boolean;
  /** The lost notification (2.7.13.4.1/1), or `null`. */
  readonly finding: OrderFinding | null;
}

/**
 * A race set up by {@linkcode notificationRace}: run the driver's publish-and-decide step in it.
 */
export interface NotificationRace {
  /**
   * Runs the step (the driver publishing the chains placed and deciding
   * whether to notify) and judges it.
   *
   * @param step Returns whether the driver will notify.
   */
  run(step: () => boolean): RaceResult;
}

/**
 * The race that 2.7.13.4.1/1's barrier exists for: a device that has
 * suppressed notifications while busy turns them back on and looks at the
 * available `idx` once more, at the worst moment, right after the driver
 * reads the suppression field (`used.flags`, or `avail_event` with
 * `VIRTIO_F_EVENT_IDX`). A driver that read it only after storing the new
 * `idx` either sees notifications on (and notifies) or has its chains seen by
 * the device. A driver that read it before its `idx` store decides on a
 * stale "don't notify" while the device goes to sleep without its chains: the
 * notification is lost and the queue stalls, reported citing 2.7.13.4.1/1.
 *
 * Call it on a fixture whose device half has taken every chain published so
 * far, with the new chains placed (not published); it turns the device's
 * notifications off first (the device is busy), with the reference parts.
 *
 * @param f The fixture (its memory is a `SnoopingMemory`).
 * @param options Where the finding goes (default: the fixture's log, scoped `"concurrent device"`).
 * @returns The race.
 * @throws {RangeError} If the device half has not taken every published chain.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ringFixture } from "./ring.ts";
 * import { notificationRace } from "./observer.ts";
 *
 * const f = ringFixture();
 * f.driverQueue.add([f.buffer(16)], [], "request");
 * const result = notificationRace(f).run(() => f.driverQueue.kickPrepare());
 * assert.equal(result.finding, null); // the reference reads used.flags after the idx store
 * assert.equal(result.read, true);
 * assert.equal(result.kicked || result.deviceSawChains, true);
 * ```
 */
export function notificationRace<T>(
  f: RingFixture<T>,
  options: ObserverOptions = {},
): NotificationRace {
  const reporter = options.reporter ?? f.log.scoped("concurrent device");
  const memory = f.memory;
  const { usedAddr, availAddr } = f.addresses;
  const published = memory.quietly(() => memory.readU16(availAddr + VIRTQ_AVAIL_IDX_OFFSET));
  if (f.device.lastAvail !== published) {
    throw new RangeError(
      `The device half has taken chains up to ${ringIdx(f.device.lastAvail)}, but ` +
        `${ringIdx(published)} are published: the race starts with the device caught up`,
    );
  }
  const field = f.eventIdx ? f.device.availEventAddr : usedAddr + VIRTQ_USED_FLAGS_OFFSET;
  const fieldName = f.eventIdx ? "avail_event" : "used ring flags";
  memory.quietly(() => REFERENCE_SPLIT_RING_DEVICE_PARTS.disableNotifications(f.device));
  return {
    run(step) {
      let readAt: MemoryAccess | null = null;
      let idxStore: MemoryAccess | null = null;
      let sawChains = false;
      const idxAddr = availAddr + VIRTQ_AVAIL_IDX_OFFSET;
      const stopLoads = memory.onLoad((l) => {
        if (readAt !== null || l.address !== field) return;
        readAt = l;
        sawChains = REFERENCE_SPLIT_RING_DEVICE_PARTS.enableNotifications(f.device);
      });
      const stopStores = memory.onStore((s) => {
        if (s.address === idxAddr && s.kind === "store") idxStore = s;
      });
      let kicked: boolean;
      try {
        kicked = step();
      } finally {
        stopLoads();
        stopStores();
      }
      const read = readAt as MemoryAccess | null;
      const published = idxStore as MemoryAccess | null;
      let finding: OrderFinding | null = null;
      if (read !== null && !sawChains && !kicked && published !== null) {
        finding = {
          id: "2.7.13.4.1/1",
          message: `The driver read ${fieldName} (load #${read.seq}) before storing the new ` +
            `available idx (store #${published.seq}); right after that read the busy device ` +
            "turned notifications back on and found no new chain, and the driver, deciding on " +
            "what it had read, did not notify: the chains wait for a notification that never comes",
          seenAfter: null,
          lateStore: published,
          position: f.device.lastAvail,
        };
        reporter.report(finding.id, finding.message, {
          fieldLoad: read.seq,
          idxStore: published.seq,
          kicked,
        }, "the queue stalls");
      }
      return { kicked, read: read !== null, deviceSawChains: sawChains, finding };
    },
  };
}

/** What {@linkcode reenableRace} found once the device's step returned. */
export interface ReenableResult {
  /** What the step returned: whether the device says chains are available (take them now). */
  readonly more: boolean;
  /** Whether the step stored into the suppression field (used ring `flags`, or `avail_event`). */
  readonly stored: boolean;
  /** Chains the concurrent driver published at that store, without notifying. */
  readonly published: number;
  /** The chains left waiting for a notification that never comes (2.7.10/D1), or `null`. */
  readonly finding: OrderFinding | null;
}

/** A race set up by {@linkcode reenableRace}: run the device's re-enabling step in it. */
export interface ReenableRace {
  /**
   * Runs the step (the device turning available buffer notifications back
   * on and saying whether chains are available) and judges it.
   *
   * @param step Returns whether the device will take more chains now.
   */
  run(step: () => boolean): ReenableResult;
}

/**
 * The race the device's re-check exists for (2.7.10/D1), the device's side
 * of {@linkcode notificationRace}: a busy device, with available buffer
 * notifications off, turns them back on. At its first store into the
 * suppression field (`used.flags`, or `avail_event` with
 * `VIRTIO_F_EVENT_IDX`), the worst moment, a driver on another CPU publishes
 * the chains it has placed, having read that field just before the store:
 * notifications off, so it does not notify. A device that reads the
 * available `idx` after its store sees those chains and says so; one that
 * read it before the store (or never) goes idle with chains published and no
 * notification coming, reported citing 2.7.10/D1.
 *
 * Call it on a fixture whose device half has taken every chain published so
 * far, with new chains placed (added, not published) on the driver side; it
 * turns the device's notifications off first (reference parts), as a busy
 * device has them.
 *
 * @param f The fixture (its memory is a `SnoopingMemory`).
 * @param options Where the finding goes (default: the fixture's log, scoped `"concurrent driver"`).
 * @returns The race.
 * @throws {RangeError} If the device half has not taken every published chain, or no chain is
 *   placed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ringFixture } from "./ring.ts";
 * import { reenableRace } from "./observer.ts";
 *
 * const f = ringFixture();
 * f.driverQueue.add([f.buffer(16)], [], "request");
 * const race = reenableRace(f).run(() => f.deviceQueue.enableNotifications());
 * assert.equal(race.finding, null); // the reference reads idx after clearing NO_NOTIFY
 * assert.equal(race.more, true);
 * assert.equal(race.published, 1);
 * ```
 */
export function reenableRace<T>(f: RingFixture<T>, options: ObserverOptions = {}): ReenableRace {
  const reporter = options.reporter ?? f.log.scoped("concurrent driver");
  const memory = f.memory;
  const idxAddr = f.addresses.availAddr + VIRTQ_AVAIL_IDX_OFFSET;
  const availIdx = () => memory.quietly(() => memory.readU16(idxAddr));
  if (f.device.lastAvail !== availIdx()) {
    throw new RangeError(
      `The device half has taken chains up to ${ringIdx(f.device.lastAvail)}, but ` +
        `${ringIdx(availIdx())} are published: the race starts with the device caught up`,
    );
  }
  if (f.driver.added === 0) {
    throw new RangeError("No chain is placed: the race needs chains for the driver to publish");
  }
  const field = f.eventIdx ? f.device.availEventAddr : f.addresses.usedAddr +
    VIRTQ_USED_FLAGS_OFFSET;
  const fieldName = f.eventIdx ? "avail_event" : "used ring flags";
  memory.quietly(() => REFERENCE_SPLIT_RING_DEVICE_PARTS.disableNotifications(f.device));
  return {
    run(step) {
      let storedAt: MemoryAccess | null = null;
      let published = 0;
      const stop = memory.onStore((s) => {
        if (storedAt !== null || s.address > field || s.address + s.width <= field) return;
        storedAt = s;
        // Accesses made in a hook are not observed: the driver's publish is
        // not the device's doing.
        published = REFERENCE_SPLIT_RING_DRIVER_PARTS.publishAvail(f.driver);
      });
      let more: boolean;
      try {
        more = step();
      } finally {
        stop();
      }
      const store = storedAt as MemoryAccess | null;
      const waiting = (availIdx() - f.device.lastAvail) & 0xffff;
      let finding: OrderFinding | null = null;
      if (store !== null && !more && waiting > 0) {
        finding = {
          id: "2.7.10/D1",
          message: `The device turned notifications back on (store #${store.seq} into ` +
            `${fieldName}) and went idle, but a driver had published ${waiting} chain(s) just ` +
            "before that store took effect, and, seeing notifications off, did not notify: " +
            "the device did not look at the available idx after its store, so the chains " +
            "wait for a notification that never comes",
          seenAfter: store,
          lateStore: null,
          position: f.device.lastAvail,
        };
        reporter.report(finding.id, finding.message, {
          fieldStore: store.seq,
          waiting,
          lastAvail: f.device.lastAvail,
        }, "the queue stalls");
      }
      return { more, stored: store !== null, published, finding };
    },
  };
}

/** What {@linkcode callbackRace} found once the driver's step returned. */
export interface CallbackRaceResult {
  /** What the step returned: whether the driver is done (nothing left to reap without a notification). */
  readonly done: boolean;
  /** Whether the device returned its chain during the step (or right before it, at moment 0). */
  readonly returned: boolean;
  /** Whether the device sent a used buffer notification for it (notifications were on). */
  readonly notified: boolean;
  /** Loads of the used `idx` the driver made during the step. */
  readonly idxLoads: number;
  /** Whether a used entry was still waiting, unreaped, when the step returned. */
  readonly stranded: boolean;
  /** The stranded entry (2.7.14/D1), or `null`. */
  readonly finding: OrderFinding | null;
}

/** A race set up by {@linkcode callbackRace}: run the driver's step in it. */
export interface CallbackRace {
  /**
   * Runs the step (the driver turning used buffer notifications back on,
   * or draining the used ring and turning them on) and judges it.
   *
   * @param step Returns whether the driver is done: `enableCallbacks`'s
   *   answer, or `true` after a drain.
   */
  run(step: () => boolean): CallbackRaceResult;
}

/** Options of {@linkcode callbackRace}. */
export interface CallbackRaceOptions extends ObserverOptions {
  /**
   * When the device returns its chain: 0 before the step starts (while
   * notifications are still off), k right after the driver's k-th load of
   * the used `idx` during the step.
   */
  readonly at: number;
}

/**
 * The race that 2.7.14/D1 is about, the used-buffer side of
 * {@linkcode notificationRace}: a driver that turned used buffer
 * notifications off to reap turns them back on, and the device returns a
 * chain at the worst moment, right after one of the driver's reads of the
 * used `idx` (or just before the driver starts, moment 0). The device
 * decides whether to notify with the reference `needsInterrupt`, on what the
 * suppression field says at that moment. A driver that stores the field
 * before it reads the used `idx` again either has notifications on by then
 * (the device notifies) or sees the new entry (and reaps it); one that read
 * first, or ignores what the read showed, says it is done while the entry
 * waits unseen and unannounced: reported, citing 2.7.14/D1.
 *
 * Call it on a fixture whose device half holds at least one chain it took
 * and has not returned, with the driver's notifications off (the driver is
 * reaping); the chain returned is the first one the device holds.
 *
 * @param f The fixture (its memory is a `SnoopingMemory`).
 * @param options The moment, and where the finding goes (default: the
 *   fixture's log, scoped `"concurrent device"`).
 * @returns The race.
 * @throws {RangeError} If the device half holds no chain, or `at` is not a
 *   non-negative integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ringFixture } from "./ring.ts";
 * import { callbackRace } from "./observer.ts";
 *
 * const f = ringFixture();
 * f.driverQueue.add([], [f.buffer(64)], "read");
 * f.driverQueue.kickPrepare();
 * f.deviceQueue.pop();
 * f.driverQueue.disableCallbacks();
 * const race = callbackRace(f, { at: 1 }).run(() => f.driverQueue.enableCallbacks());
 * assert.equal(race.finding, null); // the reference stores flags 0, then reads idx
 * assert.equal(race.notified, true);
 * ```
 */
export function callbackRace<T>(f: RingFixture<T>, options: CallbackRaceOptions): CallbackRace {
  const reporter = options.reporter ?? f.log.scoped("concurrent device");
  const at = options.at;
  if (!Number.isInteger(at) || at < 0) {
    throw new RangeError(`The race's moment must be a non-negative integer, not ${at}`);
  }
  const memory = f.memory;
  const head = f.device.inUse.indexOf(1);
  if (head < 0) {
    throw new RangeError("The device half holds no chain to return: pop one first");
  }
  const idxAddr = f.addresses.usedAddr + VIRTQ_USED_IDX_OFFSET;
  const idxField = { start: idxAddr, bytes: 2 };
  const deviceHalf = f.deviceQueue;
  let returned = false;
  let notified = false;
  const giveBack = () =>
    memory.quietly(() => {
      returned = true;
      deviceHalf.push(head, 0);
      notified = deviceHalf.needsInterrupt();
    });
  return {
    run(step) {
      if (at === 0) giveBack();
      let loads = 0;
      let seenAfter: MemoryAccess | null = null;
      const stop = memory.onLoad((l) => {
        if (!touches(l, idxField)) return;
        loads++;
        if (loads === at) {
          seenAfter = l;
          giveBack();
        }
      });
      let done: boolean;
      try {
        done = step();
      } finally {
        stop();
      }
      const pendingIdx = memory.quietly(() => memory.readU16(idxAddr));
      const stranded = returned && pendingIdx !== f.driver.lastUsed;
      let finding: OrderFinding | null = null;
      if (stranded && !notified && done) {
        const load = seenAfter as MemoryAccess | null;
        const when = load === null
          ? "before the driver turned notifications back on"
          : `right after the driver's read #${at} of the used idx (load #${load.seq}, ` +
            `which read ${ringIdx(Number(load.value))})`;
        finding = {
          id: "2.7.14/D1",
          message: `The device returned chain ${head} ${when}, while notifications were still ` +
            "off, so it sent no used buffer notification; the driver then said it was done, " +
            `and the entry waits unreaped at used idx ${ringIdx(f.driver.lastUsed, f.size)} ` +
            "for a notification that never comes",
          seenAfter: load,
          lateStore: null,
          position: f.driver.lastUsed,
        };
        reporter.report(finding.id, finding.message, {
          head,
          idxLoads: loads,
          usedIdx: pendingIdx,
          lastUsed: f.driver.lastUsed,
        }, "the entry is stranded until another notification");
      }
      return { done, returned, notified, idxLoads: loads, stranded, finding };
    },
  };
}
