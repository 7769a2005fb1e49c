/**
 * The grader of lesson 2, "Device status and reset".
 *
 * Device side: `nextDeviceStatus` is compared with the reference on every
 * status a device can hold and every byte a driver can write (64 × 256
 * cases, plus writes with high bits), one rule at a time, so a failure names
 * the smallest write that breaks that rule; then on random driver sessions
 * (fast-check, shrunk to the shortest failing one). Driver side: `addStatus`,
 * `resetDevice` (on a device that needs several reads to finish its reset, and
 * on one that never does), `beginInitialization` and `failDevice` on the lab's
 * real block device with a strict conformance log. Last, the lab machine runs
 * on the learner's status code.
 *
 * @module
 */

import fc from "fast-check";
import { defineGrader, describe, expectEqual, expectViolation, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import {
  nextDeviceStatus as referenceNext,
  type StatusTransition,
} from "../../transport/device_status.ts";
import {
  addStatus as referenceAddStatus,
  beginInitialization as referenceBegin,
  negotiateFeatures as referenceNegotiate,
} from "../../transport/mmio_driver.ts";
import {
  formatStatus,
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET as NEEDS_RESET,
} from "../../virtio/status.ts";
import { VIRTIO_MMIO_STATUS } from "../../transport/mmio_registers.ts";
import { createMachine } from "../../machine.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import {
  type Access,
  bootWithLearnerParts,
  citingViolations,
  describeAccess,
  describeAccesses,
  expectMachineRuns,
  failOnViolations,
  recordingWindow,
  RunawayDriverError,
  scriptedRegion,
  windowOf,
  withMachine,
} from "../grading_kit.ts";

type Impl = typeof Exercise;

const RESERVED = 0x30;

/** `0x0b ACKNOWLEDGE|DRIVER|FEATURES_OK` */
function st(value: number): string {
  const v = value >>> 0;
  return v === 0 ? "0x00" : `0x${v.toString(16).padStart(2, "0")} (${formatStatus(v & 0xff)})`;
}

/** A written value: `0x03`, or `0x100` for one with high bits. */
function wr(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(2, "0")}`;
}

function ids(t: StatusTransition): string[] {
  return [...new Set(t.violations.map((v) => v.id))].sort();
}

function showTransition(t: unknown): string {
  if (!isTransition(t)) return describe(t);
  const broke = ids(t);
  return `{ status: ${
    st(t.status)
  }, reset: ${t.reset}, negotiate: ${t.negotiate}, activate: ${t.activate}, ` +
    `violations: [${broke.join(", ")}] }`;
}

function isTransition(t: unknown): t is StatusTransition {
  const x = t as StatusTransition;
  return typeof x === "object" && x !== null && typeof x.status === "number" &&
    typeof x.reset === "boolean" && typeof x.negotiate === "boolean" &&
    typeof x.activate === "boolean" && Array.isArray(x.violations);
}

/** Every status a device can hold (the reserved bits 4 and 5 never are). */
const CURRENTS: readonly number[] = Array.from({ length: 256 }, (_, i) => i).filter((c) =>
  (c & RESERVED) === 0
);
/** Every byte, then a few values with bits above the low 8 (only the low 8 count). */
const WRITES: readonly number[] = [
  ...Array.from({ length: 256 }, (_, i) => i),
  0x100,
  0x103,
  0xff00,
  0xffff_ff0f,
];

interface SweepRule {
  /** Which (current, written) pairs the rule is about. */
  readonly when: (current: number, written: number) => boolean;
  /** The part of the transition the rule decides. */
  readonly project: (t: StatusTransition) => unknown;
  /** Why the reference decides as it does, for this pair. */
  readonly why: (current: number, written: number, ref: StatusTransition) => string;
  /** The requirement to cite for this pair (default: the check's). */
  readonly requirement?: (current: number, written: number, ref: StatusTransition) => string;
}

/**
 * Compares the learner's nextDeviceStatus with the reference on every pair
 * the rule is about, in order (current, then written, ascending), and fails
 * on the first that differs in the rule's projection.
 */
function sweep(impl: Impl, rule: SweepRule): void {
  for (const current of CURRENTS) {
    for (const written of WRITES) {
      if (!rule.when(current, written)) continue;
      const ref = referenceNext(current, written);
      const got = impl.nextDeviceStatus(current, written) as unknown;
      const call = `nextDeviceStatus(${st(current)}, ${wr(written)})`;
      if (!isTransition(got)) {
        fail({
          observed: `${call} returned ${describe(got)}`,
          expected: "a StatusTransition: { status, reset, negotiate, activate, violations: [] }",
        });
      }
      if (JSON.stringify(rule.project(got)) === JSON.stringify(rule.project(ref))) continue;
      fail({
        observed: `${call} returned ${showTransition(got)} (the first case, in ascending order, ` +
          `where this rule goes wrong)`,
        expected: `${rule.why(current, written, ref)}: ${showTransition(ref)}`,
        requirement: rule.requirement?.(current, written, ref),
      });
    }
  }
}

const low = (w: number) => w & 0xff;
const has = (t: StatusTransition, id: string) => t.violations.some((v) => v.id === id);

// --------------------------------------------------------- fake devices

/**
 * A Status register behind a window: writes of 0 start a reset that takes
 * `resetReads` reads to finish (Status reads the old value until then);
 * `resetReads: Infinity` never finishes. Other writes store the value.
 */
function statusDevice(initial: number, resetReads: number) {
  let status = initial;
  let pending = 0;
  let finishedAt = -1;
  let reads = 0;
  const region = scriptedRegion(
    (offset) => {
      if (offset !== VIRTIO_MMIO_STATUS) return 0;
      reads++;
      if (pending > 0) {
        pending--;
        if (pending === 0) {
          status = 0;
          finishedAt = reads;
        }
      }
      return status;
    },
    (offset, _width, value) => {
      if (offset !== VIRTIO_MMIO_STATUS) return;
      if (value === 0) {
        pending = resetReads + 1; // the reads before the one that returns 0
        if (resetReads === 0) {
          status = 0;
          pending = 0;
          finishedAt = reads;
        }
      } else if (pending === 0) {
        status = value & 0xff;
      }
    },
  );
  const { window, accesses } = recordingWindow(windowOf(region, 0x1e000), 200_000);
  return {
    window,
    accesses,
    get status() {
      return status;
    },
    get resetDone() {
      return pending === 0 && finishedAt >= 0;
    },
  };
}

function statusWrites(accesses: readonly Access[]): number[] {
  return accesses.filter((a) => a.kind === "write" && a.offset === VIRTIO_MMIO_STATUS).map((a) =>
    a.value
  );
}

/** Fails on an access that is not a 32-bit access to Status. */
function expectOnlyStatus(accesses: readonly Access[], what: string): void {
  const other = accesses.find((a) => a.offset !== VIRTIO_MMIO_STATUS || a.width !== 4);
  if (other) {
    fail({
      observed: `${what} made a ${describeAccess(other)}`,
      expected: other.width !== 4
        ? "32-bit accesses to Status (0x070) only: control registers take aligned 32-bit accesses"
        : "only accesses to Status (0x070) here",
      requirement: other.width !== 4 ? "4.2.2.2/2" : undefined,
    });
  }
}

/** A real, live block device behind a recording window, on a strict log. */
async function liveBlockDevice() {
  const machine = await createMachine({ strict: true, emptySlot: false });
  const { window, accesses } = recordingWindow(machine.bus.window(0x1e000));
  const raw = machine.bus.window(0x1e000);
  return { machine, window, accesses, status: () => raw.read32(VIRTIO_MMIO_STATUS) };
}

function statusDuring(accesses: readonly Access[]): string {
  const touched = accesses.filter((a) => a.offset === VIRTIO_MMIO_STATUS);
  return describeAccesses(touched, 8);
}

export const grader = defineGrader<Impl>({
  lesson: "status-reset",
  checks: [
    // --------------------------------------------------- device side
    {
      name: "writing 0 resets the device",
      requirement: "2.4.1/1",
      hint: 1,
      expects:
        "a write of 0 (only the low 8 bits count) to reset the device: status 0, reset: true, nothing else",
      run(impl) {
        sweep(impl, {
          when: (_c, w) => low(w) === 0,
          project: (t) => ({ ...t, violations: ids(t) }),
          why: (_c, w) =>
            w === 0
              ? "writing 0 to Status to reset the device: status 0, no flags, no violations"
              : `a write of ${
                wr(w)
              } to count as 0 (only the low 8 bits of Status exist), so it resets`,
        });
        sweep(impl, {
          when: (_c, w) => low(w) !== 0,
          project: (t) => t.reset,
          why: () => "reset: true only for a write whose low 8 bits are 0",
        });
      },
    },
    {
      name: "the driver can only add bits",
      requirement: "2.1.1/2",
      hint: 1,
      expects:
        "the new status to be the old one OR the bits written; a bit the write leaves out stays set, and the write breaks 2.1.1/2",
      run(impl) {
        sweep(impl, {
          when: (c, w) => low(w) !== 0 && (c & NEEDS_RESET) === 0 && (w & 0x70) === 0,
          project: (t) => ({ status: t.status, clears: has(t, "2.1.1/2") }),
          why: (c, w, ref) => {
            const cleared = c & ~low(w);
            return cleared
              ? `writing ${wr(low(w))} leaves out ${
                formatStatus(cleared)
              }: the bits stay set (status ${st(ref.status)}) and the write breaks 2.1.1/2`
              : `writing ${wr(low(w))} over ${st(c)} adds bits and clears none: status ${
                st(ref.status)
              }, no 2.1.1/2`;
          },
        });
      },
    },
    {
      name: "DEVICE_NEEDS_RESET belongs to the device",
      requirement: "2.1.2/3",
      hint: 2,
      expects:
        "the driver's copy of DEVICE_NEEDS_RESET (0x40) to be ignored both ways: writing it does not set it, leaving it out does not clear it (and is no violation)",
      run(impl) {
        sweep(impl, {
          when: (c, w) => low(w) !== 0 && (w & RESERVED) === 0 && ((c | w) & NEEDS_RESET) !== 0,
          project: (t) => ({ status: t.status, clears: has(t, "2.1.1/2") }),
          why: (c, w) =>
            (w & NEEDS_RESET) && !(c & NEEDS_RESET)
              ? "the device alone sets DEVICE_NEEDS_RESET (when it needs a reset, §2.1.2): a driver writing the bit does not set it"
              : (c & NEEDS_RESET) && !(w & NEEDS_RESET)
              ? "DEVICE_NEEDS_RESET to stay set when the driver's write leaves it out: it is the device's bit, so that is no 2.1.1/2 either"
              : "DEVICE_NEEDS_RESET to stay as the device set it",
        });
      },
    },
    {
      name: "reserved bits 4 and 5 are dropped",
      requirement: "2.1.1/1",
      hint: 2,
      expects:
        "the reserved bits 0x10 and 0x20 of a write to be dropped: only the bits §2.1 defines record the driver's progress",
      run(impl) {
        sweep(impl, {
          when: (_c, w) => low(w) !== 0 && (w & RESERVED) !== 0,
          project: (t) => ({ status: t.status, clears: has(t, "2.1.1/2") }),
          why: (_c, w) =>
            `the reserved bits ${formatStatus(w & RESERVED)} of 0x${
              low(w).toString(16)
            } to be dropped`,
        });
      },
    },
    {
      name: "FAILED stays until a reset, and nothing may follow it",
      requirement: "2.1.1/3",
      hint: 2,
      expects:
        "a write that adds any bit to a status holding FAILED to break 2.1.1/3 (the driver must reset first), and FAILED to stay set",
      run(impl) {
        sweep(impl, {
          when: (_c, w) => low(w) !== 0,
          project: (t) => ({ failedKept: (t.status & FAILED) !== 0, after: has(t, "2.1.1/3") }),
          why: (c, w, ref) =>
            (c & FAILED) && has(ref, "2.1.1/3")
              ? `writing ${wr(low(w))} over ${
                st(c)
              } adds bits after FAILED without a reset: 2.1.1/3`
              : (c & FAILED)
              ? `FAILED to stay set, and no 2.1.1/3 since the write adds no new bit`
              : `no 2.1.1/3 here: ${st(c)} does not hold FAILED`,
        });
      },
    },
    {
      name: "status bits arrive in the order of §3.1.1",
      requirement: "3.1.1/1",
      hint: 2,
      expects:
        "a newly added DRIVER without ACKNOWLEDGE, FEATURES_OK without DRIVER, or DRIVER_OK without FEATURES_OK to break 3.1.1/1 (the bit is still stored)",
      run(impl) {
        sweep(impl, {
          when: (_c, w) => low(w) !== 0,
          project: (t) => ({ status: t.status, order: has(t, "3.1.1/1") }),
          why: (c, w, ref) => {
            const added = ref.status & ~c;
            const missing: string[] = [];
            if ((added & DRIVER) && !(ref.status & ACKNOWLEDGE)) {
              missing.push("DRIVER before ACKNOWLEDGE");
            }
            if ((added & FEATURES_OK) && !(ref.status & DRIVER)) {
              missing.push("FEATURES_OK before DRIVER");
            }
            if ((added & DRIVER_OK) && !(ref.status & FEATURES_OK)) {
              missing.push("DRIVER_OK before FEATURES_OK");
            }
            return missing.length
              ? `writing ${wr(low(w))} over ${st(c)} sets ${missing.join(" and ")}: 3.1.1/1`
              : `writing ${wr(low(w))} over ${st(c)} keeps the order of §3.1.1: no 3.1.1/1`;
          },
        });
      },
    },
    {
      name: "FEATURES_OK asks the device to check the features",
      requirement: "2.2.2/2",
      hint: 3,
      expects:
        "negotiate: true exactly when a write newly sets FEATURES_OK (the device then accepts or refuses the driver's features)",
      run(impl) {
        sweep(impl, {
          when: () => true,
          project: (t) => t.negotiate,
          why: (c, w, ref) =>
            ref.negotiate
              ? `writing ${wr(low(w))} over ${st(c)} newly sets FEATURES_OK: negotiate`
              : `no negotiate: FEATURES_OK is not newly set by ${wr(low(w))} over ${st(c)}`,
        });
      },
    },
    {
      name: "DRIVER_OK after FEATURES_OK makes the device live",
      requirement: "2.1.2/1",
      hint: 3,
      expects:
        "activate: true exactly when DRIVER_OK is newly set while the new status has FEATURES_OK and not FAILED; before that the device must not touch its queues",
      run(impl) {
        sweep(impl, {
          when: () => true,
          project: (t) => t.activate,
          why: (c, w, ref) =>
            ref.activate
              ? `writing ${wr(low(w))} over ${
                st(c)
              } newly sets DRIVER_OK after FEATURES_OK: activate`
              : `no activate for ${wr(low(w))} over ${st(c)}: ${
                !(ref.status & ~c & DRIVER_OK)
                  ? "DRIVER_OK is not newly set"
                  : !(ref.status & FEATURES_OK)
                  ? "DRIVER_OK without FEATURES_OK, no features were negotiated"
                  : "FAILED is set, the driver has given up"
              }`,
        });
      },
    },
    {
      name: "random driver sessions give the reference's states",
      requirement: "3.1.1/1",
      hint: 2,
      expects:
        "every write of a driver session (resets, bits in and out of order, FAILED) to give the reference's status, flags and violations, each violation with a message",
      run(impl) {
        const bit = fc.constantFrom<number>(0x00, 0x01, 0x02, 0x04, 0x08, 0x40, 0x80, 0x10);
        const value = fc.oneof(
          {
            weight: 3,
            arbitrary: fc.array(bit, { minLength: 1, maxLength: 3 }).map((bits) =>
              bits.reduce((a, b) => a | b, 0)
            ),
          },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }) },
        );
        const sessions = fc.array(value, { minLength: 1, maxLength: 10 });
        const run = (writes: number[]) => {
          let mine = 0;
          let ref = 0;
          for (let i = 0; i < writes.length; i++) {
            const a = impl.nextDeviceStatus(mine, writes[i]) as unknown;
            const b = referenceNext(ref, writes[i]);
            const same = isTransition(a) && a.status === b.status && a.reset === b.reset &&
              a.negotiate === b.negotiate && a.activate === b.activate &&
              ids(a).join() === ids(b).join() &&
              a.violations.every((v) => typeof v.message === "string" && v.message.trim() !== "");
            if (!same) return { step: i, got: a, want: b, before: mine };
            mine = (a as StatusTransition).status;
            ref = b.status;
          }
          return null;
        };
        const result = fc.check(fc.property(sessions, (w) => run(w) === null), {
          seed: 0x5747,
          numRuns: 400,
        });
        if (!result.failed) return;
        const writes = result.counterexample![0];
        const diff = run(writes);
        if (!diff) return;
        const shown = writes.slice(0, diff.step + 1).map((w) => `0x${w.toString(16)}`).join(", ");
        const emptyMessage = isTransition(diff.got) &&
          diff.got.violations.some((v) => typeof v.message !== "string" || !v.message.trim());
        fail({
          observed: `after the writes ${shown} (from status 0; the shortest session found that ` +
            `fails), write ${diff.step + 1} over ${st(diff.before)} returned ${
              showTransition(diff.got)
            }` +
            (emptyMessage ? " with a violation that has no message" : ""),
          expected: `${showTransition(diff.want)}, every violation with a one-sentence message`,
        });
      },
    },
    // --------------------------------------------------- driver side
    {
      name: "addStatus reads Status, ORs the bits in and writes it back",
      requirement: "2.1.1/2",
      hint: 4,
      expects:
        "addStatus to read Status, write back the old value OR the new bits (never clearing one), and return the value written",
      run(impl) {
        for (
          const [before, bits] of [[0x00, ACKNOWLEDGE], [0x03, FEATURES_OK], [0x0b, DRIVER_OK], [
            0x0b,
            FAILED,
          ]]
        ) {
          const dev = statusDevice(before, 0);
          const returned = impl.addStatus(dev.window, bits) as unknown;
          expectOnlyStatus(dev.accesses, `addStatus(window, ${st(bits)})`);
          const writes = statusWrites(dev.accesses);
          const want = (before | bits) & 0xff;
          if (dev.accesses[0]?.kind !== "read" || writes.length !== 1 || writes[0] !== want) {
            fail({
              observed: `on a device whose Status reads ${st(before)}, addStatus(window, ${
                st(bits)
              }) made ${describeAccesses(dev.accesses)}`,
              expected: `a read of Status, then one write of ${st(want)}: the old bits stay set`,
              note: writes.length === 1 && writes[0] === bits
                ? "You wrote only the new bit: that clears every bit already set. Linux's virtio core does this with virtio_add_status(), a read-modify-write."
                : undefined,
            });
          }
          expectEqual(returned, want, `addStatus(window, ${st(bits)})'s return value`, {
            format: (v) => (typeof v === "number" ? st(v) : describe(v)),
            requires: "addStatus to return the value it wrote",
          });
        }
      },
    },
    {
      name: "resetDevice writes 0, then waits until Status reads 0",
      requirement: "2.4.2/1",
      hint: 3,
      expects:
        "resetDevice to write 0 to Status, then read Status until it reads 0, and only then return",
      run(impl) {
        const dev = statusDevice(0x0f, 3);
        impl.resetDevice(dev.window);
        expectOnlyStatus(dev.accesses, "resetDevice");
        const first = dev.accesses[0];
        if (!first || first.kind !== "write" || first.value !== 0) {
          fail({
            observed: `resetDevice began with ${
              first ? describeAccess(first) : "no access at all"
            }`,
            expected: "a reset to start with a write of 0 to Status (0x070)",
          });
        }
        if (!dev.resetDone) {
          const reads = dev.accesses.filter((a) => a.kind === "read");
          fail({
            observed: `resetDevice returned after ${reads.length} read(s) of Status, the last ` +
              `reading ${
                reads.length ? st(reads.at(-1)!.value) : "nothing"
              }; this device needs 4 ` +
              `reads to finish its reset (${statusDuring(dev.accesses)})`,
            expected:
              "the driver to consider the reset done only when Status reads 0: keep reading until then",
            note: "The lab's own devices reset at once, so this slips through on the machine; a " +
              "hardware device, or a vDPA one, takes its time. The PCI transport even makes the wait a " +
              "MUST (§4.1.4.3.2).",
          });
        }
        const later = dev.accesses.slice(
          dev.accesses.findIndex((a) => a.kind === "read" && a.value === 0) + 1,
        );
        if (later.length > 0) {
          fail({
            observed: `after Status read 0, resetDevice went on with ${describeAccess(later[0])}`,
            expected: "resetDevice to return once Status reads 0: the reset is done",
          });
        }
      },
    },
    {
      name: "resetDevice gives up on a device that never finishes",
      requirement: "2.4.2/1",
      hint: 3,
      expects:
        "resetDevice to throw (a DeviceResetError) after maxPolls reads that are not 0, instead of waiting forever",
      run(impl) {
        for (const maxPolls of [5, undefined]) {
          const dev = statusDevice(0x0f, Infinity);
          const call = maxPolls === undefined
            ? "resetDevice(window)"
            : `resetDevice(window, ${maxPolls})`;
          let thrown: unknown = null;
          try {
            if (maxPolls === undefined) impl.resetDevice(dev.window);
            else impl.resetDevice(dev.window, maxPolls);
          } catch (error) {
            thrown = error;
          }
          const reads = dev.accesses.filter((a) => a.kind === "read").length;
          if (thrown instanceof RunawayDriverError) {
            fail({
              observed:
                `${call} on a device whose reset never finishes was still reading Status after ${reads} reads`,
              expected: `a bounded wait: give up after ${
                maxPolls ?? "maxPolls (default 1000)"
              } reads by throwing DeviceResetError`,
            });
          }
          if (thrown === null) {
            fail({
              observed:
                `${call} returned normally on a device whose Status never reads 0 (${reads} reads)`,
              expected: "a reset that never completes to end in an error, not to pass as done",
            });
          }
          // A todo() is passed through so a stub is explained as unwritten.
          if (thrown instanceof Error && thrown.name === "NotWrittenYetError") throw thrown;
          if (!(thrown instanceof Error)) {
            fail({
              observed: `${call} threw ${describe(thrown)}`,
              expected:
                "an Error, preferably new DeviceResetError(status, polls) from transport/mmio_driver.ts",
            });
          }
          if (maxPolls !== undefined && reads > maxPolls + 1) {
            fail({
              observed: `${call} read Status ${reads} times before giving up`,
              expected: `at most maxPolls (${maxPolls}) reads of Status`,
            });
          }
          if (maxPolls === undefined && reads > 1000 + 1) {
            fail({
              observed: `${call} read Status ${reads} times before giving up`,
              expected: "at most 1000 reads by default",
            });
          }
        }
      },
    },
    {
      name: "beginInitialization: reset, then ACKNOWLEDGE, then DRIVER",
      requirement: "3.1.1/1",
      hint: 4,
      expects:
        "on the lab's block device: a write of 0, reads until Status is 0, a write of ACKNOWLEDGE (0x01), then a write of ACKNOWLEDGE|DRIVER (0x03)",
      async run(impl) {
        const dev = await liveBlockDevice();
        await withMachine(dev.machine, async () => {
          await citingViolations(
            () => impl.beginInitialization(dev.window),
            "beginInitialization on the lab's live block device",
            "the first steps of §3.1.1, breaking no rule on the way",
          );
          expectOnlyStatus(dev.accesses, "beginInitialization");
          const writes = statusWrites(dev.accesses);
          const firstZeroRead = dev.accesses.findIndex((a) => a.kind === "read" && a.value === 0);
          const ackWrite = dev.accesses.findIndex((a) => a.kind === "write" && a.value !== 0);
          if (writes.join() !== [0, 0x01, 0x03].join()) {
            fail({
              observed: `beginInitialization wrote Status ${
                writes.map((w) => `0x${w.toString(16).padStart(2, "0")}`).join(", ") || "never"
              } (${statusDuring(dev.accesses)})`,
              expected: "three writes: 0 (reset), 0x01 (ACKNOWLEDGE), 0x03 (ACKNOWLEDGE|DRIVER)",
            });
          }
          if (firstZeroRead < 0 || firstZeroRead > ackWrite) {
            fail({
              observed: `beginInitialization set ACKNOWLEDGE before reading Status back as 0 (${
                statusDuring(dev.accesses)
              })`,
              expected: "the reset to be complete (Status read as 0) before initialization starts",
              requirement: "2.4.2/1",
            });
          }
          expectEqual(dev.status(), ACKNOWLEDGE | DRIVER, "Status afterwards", {
            format: st,
            requires: "Status to read 0x03 (ACKNOWLEDGE|DRIVER) after beginInitialization",
          });
        });
      },
    },
    {
      name: "beginInitialization starts over after FAILED",
      requirement: "2.1.1/3",
      hint: 4,
      expects:
        "a device left with FAILED set to be reset before ACKNOWLEDGE is set again: afterwards Status reads 0x03",
      async run(impl) {
        const dev = await liveBlockDevice();
        await withMachine(dev.machine, async () => {
          referenceAddStatus(dev.machine.bus.window(0x1e000), FAILED);
          const before = dev.status();
          await citingViolations(
            () => impl.beginInitialization(dev.window),
            `beginInitialization on a device whose status reads ${st(before)}`,
            "a reset before the driver initializes the device again",
          );
          expectEqual(
            dev.status(),
            ACKNOWLEDGE | DRIVER,
            `Status after beginInitialization (it read ${st(before)} before)`,
            {
              format: st,
              requires:
                "Status to read 0x03: FAILED cleared by the reset, then ACKNOWLEDGE and DRIVER",
            },
          );
        });
      },
    },
    {
      name: "failDevice sets FAILED and keeps the other bits",
      requirement: "3.1.1/4",
      hint: 4,
      expects: "failDevice to add FAILED (0x80) to the status, clearing nothing",
      async run(impl) {
        const dev = await liveBlockDevice();
        await withMachine(dev.machine, async () => {
          const raw = dev.machine.bus.window(0x1e000);
          // Three stages of a bring-up: live (0x0f), then after a fresh
          // ACKNOWLEDGE|DRIVER (0x03), then after features (0x0b).
          const stages: [string, () => void][] = [
            ["live", () => {}],
            ["ACKNOWLEDGE|DRIVER", () => referenceBegin(raw)],
            ["FEATURES_OK", () => {
              referenceBegin(raw);
              referenceNegotiate(raw, 0n);
            }],
          ];
          for (const [, reach] of stages) {
            reach();
            const reached = dev.status();
            dev.accesses.length = 0;
            await citingViolations(
              () => impl.failDevice(dev.window),
              `failDevice on a device whose status reads ${st(reached)}`,
              "FAILED set with a read-modify-write that clears nothing",
            );
            expectOnlyStatus(dev.accesses, "failDevice");
            expectEqual(
              dev.status(),
              reached | FAILED,
              `Status after failDevice (it read ${st(reached)})`,
              {
                format: st,
                requires: `Status to read ${
                  st(reached | FAILED)
                }: FAILED added, every other bit kept`,
              },
            );
          }
        });
      },
    },
    // --------------------------------------------------- both sides, for real
    {
      name: "your status code runs the lab machine",
      requirement: "3.1.1/1",
      hint: 4,
      expects:
        "the lab machine, built with your nextDeviceStatus, beginInitialization and failDevice on a strict conformance log, to bring both devices up and read sector 2",
      async run(impl) {
        const machine = await bootWithLearnerParts({
          strict: true,
          device: { nextDeviceStatus: impl.nextDeviceStatus },
          driver: { beginInitialization: impl.beginInitialization, failDevice: impl.failDevice },
        });
        await withMachine(machine, async () => {
          await expectMachineRuns(machine, "the machine to come up on your code");
          failOnViolations(machine.log, "the bring-up", "a bring-up that breaks no rule");
        });
      },
    },
    {
      name: "your device logs a driver that clears a bit, on the lab machine",
      requirement: "2.1.1/2",
      hint: 1,
      expects:
        "the lab's block device, running your nextDeviceStatus, to keep its bits and log 2.1.1/2 when a driver writes 0x01 over 0x0f, then to reset on a write of 0",
      async run(impl) {
        const machine = await bootWithLearnerParts({
          device: { nextDeviceStatus: impl.nextDeviceStatus },
        });
        await withMachine(machine, () => {
          const w: RegisterWindow = machine.bus.window(0x1e000);
          failOnViolations(machine.log, "the bring-up", "a bring-up that breaks no rule");
          machine.log.clear();
          w.write32(VIRTIO_MMIO_STATUS, ACKNOWLEDGE);
          expectViolation(machine.log, "2.1.1/2", "a write of 0x01 over status 0x0f");
          expectEqual(w.read32(VIRTIO_MMIO_STATUS), 0x0f, "Status after the write of 0x01", {
            format: st,
            requires: "the bits to stay set: Status still reads 0x0f",
          });
          w.write32(VIRTIO_MMIO_STATUS, 0);
          expectEqual(w.read32(VIRTIO_MMIO_STATUS), 0, "Status after a write of 0", {
            format: st,
            requires: "a write of 0 to reset the device: Status reads 0",
            requirement: "2.4.1/1",
          });
          machine.log.clear();
          w.write32(VIRTIO_MMIO_STATUS, DRIVER_OK);
          expectViolation(machine.log, "3.1.1/1", "a write of DRIVER_OK right after the reset", {
            requirement: "3.1.1/1",
          });
        });
      },
    },
  ],
});
