/**
 * The grader of lesson 3, "Feature negotiation".
 *
 * Device side: `checkDriverFeatures` against the reference on random 64-bit
 * feature words (fast-check, shrunk to the smallest failing pair), one rule
 * at a time. Driver side: `readDeviceFeatures`, `writeDriverFeatures` and
 * `negotiateFeatures` on the lab's real block device with a strict
 * conformance log (which catches a read of `DeviceFeatures` before
 * `DeviceFeaturesSel` is written, 4.2.2.2/7, and the device's refusal of
 * unoffered bits, 2.2.1/1), on a device that refuses every feature set, and
 * on a legacy-only device that does not offer VIRTIO_F_VERSION_1. A driver
 * that only handles 32 feature bits, like early virtio-mmio version 2 support
 * in NetBSD, never finds VIRTIO_F_VERSION_1 (bit 32) and fails here. Last,
 * the lab machine negotiates with the learner's code on both sides.
 *
 * @module
 */

import fc from "fast-check";
import { defineGrader, describe, expectEqual, expectViolation, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import {
  checkDriverFeatures as referenceCheck,
  type FeatureVerdict,
} from "../../transport/device_status.ts";
import {
  addStatus,
  beginInitialization as referenceBegin,
  readDeviceFeatures as referenceRead,
  writeDriverFeatures as referenceWrite,
} from "../../transport/mmio_driver.ts";
import { MmioDeviceTransport } from "../../transport/mmio_device.ts";
import {
  featureMask,
  featureNames,
  features,
  formatFeatures,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import {
  formatStatus,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
} from "../../virtio/status.ts";
import {
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_STATUS,
} from "../../transport/mmio_registers.ts";
import { builtinDisk, createMachine, type LabMachine } from "../../machine.ts";
import { VirtioBlockDevice } from "../../devices/blk/device.ts";
import { VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_FEATURE_NAMES } from "../../devices/blk/constants.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { VirtioDevice } from "../../virtio/device.ts";
import {
  type Access,
  bootWithLearnerParts,
  citingViolations,
  describeAccess,
  describeAccesses,
  expectMachineRuns,
  failOnViolations,
  recordingWindow,
  withMachine,
} from "../grading_kit.ts";

type Impl = typeof Exercise;

const V1 = featureMask(VIRTIO_F_VERSION_1);
const ALL_64 = (1n << 64n) - 1n;

const NETBSD_32_BIT_NOTE =
  "VIRTIO_F_VERSION_1 is bit 32: it lives in feature word 1 (DeviceFeaturesSel = 1), which a " +
  "driver that only handles 32 feature bits never sees. NetBSD's virtio_mmio met this when it " +
  "added the version 2 personality (rev. 1.12, January 2024): four days later (rev. 1.13) it had " +
  "to add VIRTIO 1.0 feature negotiation, because hypervisors whose MMIO version 2 devices are not " +
  "transitional refuse a driver that does not accept VIRTIO_F_VERSION_1.";

/** A feature word in hex with its bits named (block device names unless `names` is given). */
function fx(
  word: unknown,
  names: Readonly<Record<number, string>> = VIRTIO_BLK_FEATURE_NAMES,
): string {
  if (typeof word !== "bigint") return describe(word);
  const named = featureNames(word, names);
  return `${formatFeatures(word)}${named.length ? ` (${named.join(", ")})` : ""}`;
}

function st(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(2, "0")} (${formatStatus(value & 0xff)})`;
}

function showVerdict(v: unknown): string {
  const x = v as FeatureVerdict;
  if (!x || typeof x !== "object" || typeof x.ok !== "boolean") return describe(v);
  return x.ok
    ? `{ ok: true, features: ${fx(x.features, {})} }`
    : `{ ok: false, requirement: ${JSON.stringify(x.requirement)}, reason: ${
      JSON.stringify(x.reason)
    } }`;
}

/** Random 64-bit words with a bias towards the bits that matter (0..3, 28..35, 63). */
const word64 = fc.oneof(
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: ALL_64 }) },
  {
    weight: 3,
    arbitrary: fc.array(fc.constantFrom(0, 1, 2, 3, 28, 29, 31, 32, 33, 34, 35, 40, 63), {
      maxLength: 6,
    }).map((bits) => features(...bits)),
  },
);

interface VerdictRule {
  /** Pairs (offered, accepted) the rule is about. */
  readonly arbitrary: fc.Arbitrary<[bigint, bigint]>;
  /** What the rule requires of the verdict, in words, for a pair. */
  readonly why: (offered: bigint, accepted: bigint, ref: FeatureVerdict) => string;
  /** Requirement ids that are fair for a refusal of this pair. */
  readonly fair: (offered: bigint, accepted: bigint, ref: FeatureVerdict) => string[];
}

/** The learner's verdict agrees with the reference's on a pair. */
function agrees(got: unknown, ref: FeatureVerdict, fair: string[]): boolean {
  const x = got as FeatureVerdict;
  if (!x || typeof x !== "object" || x.ok !== ref.ok) return false;
  if (x.ok && ref.ok) return x.features === ref.features;
  if (!x.ok) {
    return fair.includes(x.requirement) && typeof x.reason === "string" && x.reason.trim() !== "";
  }
  return false;
}

function checkVerdicts(impl: Impl, rule: VerdictRule): void {
  const result = fc.check(
    fc.property(rule.arbitrary, ([offered, accepted]) => {
      const ref = referenceCheck(offered, accepted);
      return agrees(
        impl.checkDriverFeatures(offered, accepted),
        ref,
        rule.fair(offered, accepted, ref),
      );
    }),
    { seed: 0xfea7, numRuns: 500 },
  );
  if (!result.failed) return;
  const [offered, accepted] = result.counterexample![0];
  const ref = referenceCheck(offered, accepted);
  const got = impl.checkDriverFeatures(offered, accepted);
  fail({
    observed: `checkDriverFeatures(${formatFeatures(offered)}n, ${
      formatFeatures(accepted)
    }n) returned ${showVerdict(got)} (the smallest pair found that fails)`,
    expected: `${rule.why(offered, accepted, ref)}: ${showVerdict(ref)}`,
    requirement: ref.ok ? undefined : ref.requirement,
    note: (offered | accepted) >> 32n && typeof got === "object" && got && "features" in got &&
        got.features !== accepted
      ? "All 64 bits count: keep feature words as bigint (& | ~ on bigint), never Number()."
      : undefined,
  });
}

// --------------------------------------------------------- devices

/** A lab machine's block device, driven to ACKNOWLEDGE|DRIVER, behind a recording window. */
async function blockDeviceAtDriver(
  options: { strict?: boolean; blockDevice?: VirtioDevice } = {},
) {
  const machine = await createMachine({
    strict: options.strict ?? true,
    emptySlot: false,
    blockDevice: options.blockDevice,
  });
  const raw = machine.bus.window(0x1e000);
  referenceBegin(raw);
  machine.log.clear();
  const { window, accesses } = recordingWindow(raw);
  const transport = machine.blk.transport;
  if (!(transport instanceof MmioDeviceTransport)) throw new Error("unexpected transport");
  return {
    machine,
    window,
    accesses,
    transport,
    offered: transport.device.deviceFeatures,
    status: () => raw.read32(VIRTIO_MMIO_STATUS),
  };
}

/** A block device that refuses every feature set at FEATURES_OK (2.2.2/2 allows it). */
function refusingDevice(): VirtioDevice {
  const device: VirtioDevice = new VirtioBlockDevice(builtinDisk());
  device.checkFeatures = () => "this device refuses every feature set (a test device)";
  return device;
}

/** A block device whose offer lacks VIRTIO_F_VERSION_1: what a legacy-only device offers. */
function legacyOnlyDevice(): VirtioDevice {
  const device = new VirtioBlockDevice(builtinDisk());
  Object.defineProperty(device, "deviceFeatures", { value: device.deviceFeatures & ~V1 });
  return device;
}

/**
 * Fails unless every access to `data` comes after a write of a word index (0
 * or 1) to `sel` made since the previous access to `data`: the selector is
 * written before each access, never trusted from before.
 */
function expectSelectedWords(
  accesses: readonly Access[],
  data: number,
  sel: number,
  kind: "read" | "write",
  requirement: string,
  expected: string,
): void {
  let selected: number | null = null;
  for (const a of accesses) {
    if (a.offset === sel && a.kind === "write") selected = a.value;
    if (a.offset !== data || a.kind !== kind) continue;
    if (selected === null) {
      fail({
        observed: `${describeAccess(a)} came without a write to the selector just before it ` +
          `(accesses: ${describeAccesses(accesses)})`,
        expected,
        requirement,
      });
    }
    selected = null;
  }
}

/** The index after the first write that sets FEATURES_OK, or -1. */
function afterFeaturesOk(accesses: readonly Access[]): number {
  const i = accesses.findIndex((a) =>
    a.kind === "write" && a.offset === VIRTIO_MMIO_STATUS && (a.value & FEATURES_OK) !== 0
  );
  return i < 0 ? -1 : i + 1;
}

function driverFeaturesWritten(accesses: readonly Access[]): bigint {
  let sel = 0;
  let word = 0n;
  for (const a of accesses) {
    if (a.kind !== "write") continue;
    if (a.offset === VIRTIO_MMIO_DRIVER_FEATURES_SEL) sel = a.value;
    if (a.offset === VIRTIO_MMIO_DRIVER_FEATURES && sel < 2) {
      const shift = BigInt(32 * sel);
      word = (word & ~(0xffff_ffffn << shift)) | (BigInt(a.value >>> 0) << shift);
    }
  }
  return word;
}

function runNegotiation(
  impl: Impl,
  dev: Awaited<ReturnType<typeof blockDeviceAtDriver>>,
  supported: bigint,
): { result?: unknown; error?: unknown } {
  try {
    return { result: impl.negotiateFeatures(dev.window, supported) };
  } catch (error) {
    if (error instanceof Error && error.name === "NotWrittenYetError") throw error;
    return { error };
  }
}

export const grader = defineGrader<Impl>({
  lesson: "feature-negotiation",
  checks: [
    // --------------------------------------------------- device side
    {
      name: "a feature the device never offered is refused",
      requirement: "2.2.1/1",
      hint: 1,
      expects:
        'any accepted bit outside the offered ones to be refused: { ok: false, requirement: "2.2.1/1" }',
      run(impl) {
        checkVerdicts(impl, {
          arbitrary: fc.tuple(word64, word64, word64).map(([offered, pick, extra]) => {
            const unoffered = (extra & ~offered & ALL_64) ||
              (~offered & ALL_64 & -(~offered & ALL_64));
            return [offered, (offered & pick) | unoffered] as [bigint, bigint];
          }).filter(([offered, accepted]) => (accepted & ~offered) !== 0n),
          why: (offered, accepted) =>
            `the driver accepted ${
              fx(accepted & ~offered, {})
            }, never offered: refuse with 2.2.1/1`,
          fair: (offered, accepted) =>
            (offered & V1) && !(accepted & V1) ? ["2.2.1/1", "6.1/1"] : ["2.2.1/1"],
        });
      },
    },
    {
      name: "a driver that declines VIRTIO_F_VERSION_1 is refused",
      requirement: "6.2/2",
      hint: 1,
      expects:
        'an offered VIRTIO_F_VERSION_1 that the driver does not accept to be refused: { ok: false, requirement: "6.1/1" } (the driver broke 6.1/1; 6.2/2 lets the device refuse)',
      run(impl) {
        checkVerdicts(impl, {
          arbitrary: fc.tuple(word64, word64).map(([offered, pick]) =>
            [offered | V1, offered & pick & ~V1] as [bigint, bigint]
          ),
          why: () =>
            "VIRTIO_F_VERSION_1 is offered and the driver did not accept it: refuse with 6.1/1",
          fair: () => ["6.1/1"],
        });
      },
    },
    {
      name: "a valid choice is accepted exactly as the driver made it",
      requirement: "2.2.2/2",
      hint: 1,
      expects:
        "a subset of the offered features (with VIRTIO_F_VERSION_1 when offered) to be accepted: { ok: true, features: accepted }",
      run(impl) {
        checkVerdicts(impl, {
          arbitrary: fc.tuple(word64, word64).map(([offered, pick]) => {
            const accepted = offered & pick;
            return [offered, (offered & V1) ? accepted | V1 : accepted] as [bigint, bigint];
          }),
          why: (_o, accepted) =>
            `every accepted bit was offered and VIRTIO_F_VERSION_1 is taken when offered: accept ${
              fx(accepted, {})
            } as it is`,
          fair: () => [],
        });
      },
    },
    // --------------------------------------------------- driver side
    {
      name: "readDeviceFeatures selects each word before reading it",
      requirement: "4.2.2.2/7",
      hint: 2,
      expects:
        "readDeviceFeatures to write DeviceFeaturesSel before each read of DeviceFeatures (0 for bits 0..31, 1 for bits 32..63) and return all 64 offered bits",
      async run(impl) {
        const dev = await blockDeviceAtDriver();
        await withMachine(dev.machine, async () => {
          const got = await citingViolations(
            () => impl.readDeviceFeatures(dev.window),
            "readDeviceFeatures on the lab's block device, just after a reset",
            "DeviceFeaturesSel written before each read of DeviceFeatures",
          );
          expectSelectedWords(
            dev.accesses,
            VIRTIO_MMIO_DEVICE_FEATURES,
            VIRTIO_MMIO_DEVICE_FEATURES_SEL,
            "read",
            "4.2.2.2/7",
            "a write of the word index to DeviceFeaturesSel (0x014) before each read of DeviceFeatures (0x010): 0 for bits 0..31, 1 for bits 32..63",
          );
          if (got !== dev.offered) {
            fail({
              observed: `readDeviceFeatures returned ${fx(got)} (accesses: ${
                describeAccesses(dev.accesses)
              })`,
              expected: `all 64 offered bits, ${fx(dev.offered)}`,
              note: typeof got === "bigint" && (got & V1) === 0n ? NETBSD_32_BIT_NOTE : undefined,
            });
          }
        });
      },
    },
    {
      name: "writeDriverFeatures selects each word before writing it",
      requirement: "4.2.2.2/8",
      hint: 2,
      expects:
        "writeDriverFeatures to write DriverFeaturesSel before each write of DriverFeatures (0 for bits 0..31, 1 for bits 32..63), so that the device holds all 64 accepted bits",
      async run(impl) {
        const dev = await blockDeviceAtDriver();
        await withMachine(dev.machine, async () => {
          const choice = dev.offered & (V1 | featureMask(VIRTIO_BLK_F_FLUSH) |
            featureMask(VIRTIO_F_EVENT_IDX));
          await citingViolations(
            () => impl.writeDriverFeatures(dev.window, choice),
            `writeDriverFeatures(window, ${formatFeatures(choice)}n) on the lab's block device`,
            "DriverFeaturesSel written before each write of DriverFeatures",
          );
          expectSelectedWords(
            dev.accesses,
            VIRTIO_MMIO_DRIVER_FEATURES,
            VIRTIO_MMIO_DRIVER_FEATURES_SEL,
            "write",
            "4.2.2.2/8",
            "a write of the word index to DriverFeaturesSel (0x024) before each write of DriverFeatures (0x020): 0 for bits 0..31, 1 for bits 32..63",
          );
          const held = dev.transport.inspect().driverFeatures;
          if (held !== choice) {
            fail({
              observed:
                `after writeDriverFeatures(window, ${formatFeatures(choice)}n), the device ` +
                `holds ${fx(held)} (accesses: ${describeAccesses(dev.accesses)})`,
              expected: `the device to hold ${fx(choice)}: both words written`,
              note: (held & V1) === 0n ? NETBSD_32_BIT_NOTE : undefined,
            });
          }
        });
      },
    },
    {
      name: "negotiateFeatures accepts what both sides support, plus VIRTIO_F_VERSION_1",
      requirement: "6.1/1",
      hint: 3,
      expects:
        "negotiateFeatures to accept offered ∩ supported plus VIRTIO_F_VERSION_1, set FEATURES_OK, re-read Status, and return the accepted features",
      async run(impl) {
        const flush = featureMask(VIRTIO_BLK_F_FLUSH);
        for (const supported of [0n, flush | featureMask(VIRTIO_F_EVENT_IDX), flush | V1]) {
          const dev = await blockDeviceAtDriver();
          await withMachine(dev.machine, async () => {
            const want = dev.offered & (supported | V1);
            const got = await citingViolations(
              () => impl.negotiateFeatures(dev.window, supported),
              `negotiateFeatures(window, ${formatFeatures(supported)}n) on the lab's block device`,
              "a negotiation that breaks no rule",
              (v) => (v.id === "6.1/1" ? NETBSD_32_BIT_NOTE : undefined),
            );
            if (got !== want) {
              fail({
                observed: `negotiateFeatures(window, ${formatFeatures(supported)}n) returned ${
                  fx(got)
                } (the device offers ${fx(dev.offered)})`,
                expected: `offered ∩ supported, plus VIRTIO_F_VERSION_1: ${fx(want)}`,
                note: typeof got === "bigint" && (got & V1) === 0n ? NETBSD_32_BIT_NOTE : undefined,
              });
            }
            expectEqual(
              dev.transport.negotiatedFeatures,
              want,
              "the device's negotiated features",
              {
                format: fx,
                requires: `the device to have accepted ${fx(want)} at FEATURES_OK`,
              },
            );
            expectEqual(dev.status(), 0x0b, "Status afterwards", {
              format: st,
              requires:
                "Status to read 0x0b: ACKNOWLEDGE|DRIVER kept, FEATURES_OK added (DRIVER_OK comes later)",
              requirement: "3.1.1/1",
            });
            const after = afterFeaturesOk(dev.accesses);
            const reread = dev.accesses.slice(after).some((a) =>
              a.kind === "read" && a.offset === VIRTIO_MMIO_STATUS
            );
            if (!reread) {
              fail({
                observed:
                  `negotiateFeatures did not read Status after setting FEATURES_OK (accesses: ${
                    describeAccesses(dev.accesses, 14)
                  })`,
                expected: "step 6 of §3.1.1: re-read Status to see whether FEATURES_OK stuck",
                requirement: "3.1.1/1",
              });
            }
          });
        }
      },
    },
    {
      name: "negotiateFeatures never accepts a feature that was not offered",
      requirement: "2.2.1/1",
      hint: 3,
      expects:
        "a driver that supports everything (all 64 bits) to accept only what the device offers",
      async run(impl) {
        const dev = await blockDeviceAtDriver();
        await withMachine(dev.machine, async () => {
          const got = await citingViolations(
            () => impl.negotiateFeatures(dev.window, ALL_64),
            "negotiateFeatures(window, all 64 bits) on the lab's block device",
            "only offered features accepted",
          );
          const written = driverFeaturesWritten(dev.accesses);
          if (written & ~dev.offered) {
            fail({
              observed: `negotiateFeatures wrote ${fx(written)} to DriverFeatures, including ${
                fx(written & ~dev.offered)
              } that the device never offered`,
              expected: `only offered bits: ${fx(dev.offered)}`,
            });
          }
          expectEqual(got, dev.offered, "negotiateFeatures(window, all 64 bits)", {
            format: fx,
            requires: `every offered feature and nothing else: ${fx(dev.offered)}`,
          });
        });
      },
    },
    {
      name: "negotiateFeatures re-reads Status: FEATURES_OK must stick",
      requirement: "3.1.1/1",
      hint: 4,
      expects:
        "on a device that refuses the features (FEATURES_OK does not stick), negotiateFeatures to notice on the re-read and throw instead of returning",
      async run(impl) {
        const dev = await blockDeviceAtDriver({ strict: false, blockDevice: refusingDevice() });
        await withMachine(dev.machine, () => {
          const outcome = runNegotiation(impl, dev, featureMask(VIRTIO_BLK_F_FLUSH));
          if (!("error" in outcome)) {
            fail({
              observed: `negotiateFeatures returned ${
                fx(outcome.result)
              } although the device left FEATURES_OK clear (Status reads ${st(dev.status())})`,
              expected:
                "step 6 of §3.1.1: re-read Status after setting FEATURES_OK; if the bit did not stick, the device refused the features (2.2.2/2) and is unusable: throw",
            });
          }
        });
      },
    },
    {
      name: "a refused negotiation ends with FAILED",
      requirement: "2.2.1/2",
      hint: 4,
      expects:
        "when the device refuses the features, FAILED to be set (keeping the other bits) before negotiateFeatures throws",
      async run(impl) {
        const dev = await blockDeviceAtDriver({ strict: false, blockDevice: refusingDevice() });
        await withMachine(dev.machine, () => {
          const outcome = runNegotiation(impl, dev, featureMask(VIRTIO_BLK_F_FLUSH));
          const status = dev.status();
          if (!("error" in outcome) || !(status & FAILED)) {
            fail({
              observed: `after the device refused the features, negotiateFeatures ${
                "error" in outcome ? "threw" : "returned"
              } with Status reading ${st(status)}`,
              expected:
                "the driver to set FAILED (it gives up on the device, §3.1.1) and stop: Status reads ACKNOWLEDGE|DRIVER|FAILED",
            });
          }
          if (status & DRIVER_OK) {
            fail({
              observed: `Status reads ${st(status)} after a refused negotiation`,
              expected: "initialization to stop: no DRIVER_OK after the device refused",
              requirement: "3.1.1/5",
            });
          }
        });
      },
    },
    {
      name: "negotiateFeatures gives up on a legacy-only device",
      requirement: "6.1/2",
      hint: 4,
      expects:
        "a device that does not offer VIRTIO_F_VERSION_1 to be given up on: FAILED set, an error thrown, no FEATURES_OK",
      async run(impl) {
        const dev = await blockDeviceAtDriver({ strict: false, blockDevice: legacyOnlyDevice() });
        await withMachine(dev.machine, () => {
          const outcome = runNegotiation(impl, dev, ALL_64);
          const status = dev.status();
          const setFeaturesOk = afterFeaturesOk(dev.accesses) >= 0;
          const written = driverFeaturesWritten(dev.accesses);
          if (!("error" in outcome) || !(status & FAILED) || setFeaturesOk || (written & V1)) {
            fail({
              observed: `on a device offering ${fx(dev.offered)} (no VIRTIO_F_VERSION_1), ` +
                `negotiateFeatures ${
                  "error" in outcome ? "threw" : `returned ${fx(outcome.result)}`
                }` +
                `${written & V1 ? ", accepted VIRTIO_F_VERSION_1 though it was not offered" : ""}` +
                `${setFeaturesOk ? ", set FEATURES_OK" : ""}; Status reads ${st(status)}`,
              expected:
                "a legacy-only device to be given up on at once (this driver has no legacy mode): set FAILED and throw, without accepting features or setting FEATURES_OK",
            });
          }
        });
      },
    },
    // --------------------------------------------------- both sides, for real
    {
      name: "your negotiation runs the lab machine",
      requirement: "6.1/1",
      hint: 3,
      expects:
        "the lab machine, built with your checkDriverFeatures and negotiateFeatures on a strict conformance log, to negotiate what the reference machine negotiates and read sector 2",
      async run(impl) {
        const reference = await createMachine({ emptySlot: false });
        const wanted = await withMachine(
          reference,
          (m: LabMachine) => m.devices().map((d) => d.features),
        );
        const machine = await bootWithLearnerParts({
          strict: true,
          emptySlot: false,
          device: { checkDriverFeatures: impl.checkDriverFeatures },
          driver: { negotiateFeatures: impl.negotiateFeatures },
        });
        await withMachine(machine, async () => {
          await expectMachineRuns(machine, "the machine to come up on your code");
          failOnViolations(machine.log, "the bring-up", "a bring-up that breaks no rule");
          machine.devices().forEach((d, i) => {
            expectEqual(d.features, wanted[i], `the features negotiated with ${d.node}`, {
              requires: `the same features as the reference machine: ${wanted[i].join(", ")}`,
            });
          });
        });
      },
    },
    {
      name: "your device refuses a bad choice of features, on the lab machine",
      requirement: "2.2.2/2",
      hint: 1,
      expects:
        "the lab's block device, running your checkDriverFeatures, to leave FEATURES_OK clear and log the rule when a driver accepts an unoffered bit (2.2.1/1) or declines VIRTIO_F_VERSION_1 (6.1/1), and to set it for a valid choice",
      async run(impl) {
        const machine = await bootWithLearnerParts({
          emptySlot: false,
          device: { checkDriverFeatures: impl.checkDriverFeatures },
        });
        await withMachine(machine, () => {
          const w: RegisterWindow = machine.bus.window(0x1e000);
          const offered = referenceRead(w);
          const cases: [string, bigint, string | null][] = [
            ["an unoffered bit 63", offered | (1n << 63n), "2.2.1/1"],
            ["no VIRTIO_F_VERSION_1", offered & ~V1, "6.1/1"],
            ["a valid choice", offered & (V1 | featureMask(VIRTIO_BLK_F_FLUSH)), null],
          ];
          for (const [what, choice, rule] of cases) {
            referenceBegin(w);
            machine.log.clear();
            referenceWrite(w, choice);
            addStatus(w, FEATURES_OK);
            const status = w.read32(VIRTIO_MMIO_STATUS);
            if (rule) {
              expectViolation(
                machine.log,
                rule,
                `a driver accepting ${what} and setting FEATURES_OK`,
              );
              if (status & FEATURES_OK) {
                fail({
                  observed: `after a driver accepted ${what} (${
                    formatFeatures(choice)
                  }) and set FEATURES_OK, Status reads ${st(status)}`,
                  expected: "the device to refuse: FEATURES_OK stays clear (2.2.2/2)",
                  requirement: "2.2.2/2",
                });
              }
            } else if (!(status & FEATURES_OK)) {
              fail({
                observed: `after a driver accepted ${what} (${
                  fx(choice)
                }) and set FEATURES_OK, Status reads ${st(status)}`,
                expected: "a valid subset of the offered features to be accepted: FEATURES_OK set",
              });
            }
          }
        });
      },
    },
  ],
});
