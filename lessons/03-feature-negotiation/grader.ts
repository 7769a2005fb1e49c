/**
 * The grader of lesson 3, "Feature negotiation".
 *
 * Device side: `checkDriverFeatures` against the reference on random sets of
 * feature bits (fast-check, fixed seeds, shrunk to the fewest bits that
 * fail), one rule at a time, then inside the lab's register file. Driver
 * side: `readDeviceFeatures`, `writeDriverFeatures` and `negotiateFeatures`
 * on the lab's block and console register files with a strict log (which
 * catches a read of `DeviceFeatures` before `DeviceFeaturesSel` is written,
 * 4.2.2.2/7, and the device's refusal of an unoffered bit, 2.2.1/1), on a
 * device offering bits in both words, on one that refuses every choice and
 * on a legacy-only one. A driver that handles 32 feature bits, as NetBSD's
 * virtio_mmio did for four days in January 2024, never finds
 * VIRTIO_F_VERSION_1 (bit 32) and fails here. Last, the lab machine
 * negotiates with the learner's code on both sides.
 *
 * @module
 */

import fc from "fast-check";
import { defineGrader, expectEqual } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import {
  checkDriverFeatures as referenceCheck,
  type FeatureVerdict,
} from "../../transport/device_status.ts";
import * as reference from "../../transport/mmio_driver.ts";
import {
  featureMask,
  features,
  formatFeatures,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import {
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
} from "../../virtio/status.ts";
import {
  VIRTIO_MMIO_DEVICE_FEATURES as DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL as DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DRIVER_FEATURES as DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL as DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_STATUS as STATUS,
} from "../../transport/mmio_registers.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { VirtioDevice } from "../../virtio/device.ts";
import { MemoryBlockBackend } from "../../devices/blk/backends.ts";
import { VirtioBlockDevice } from "../../devices/blk/device.ts";
import { VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_FEATURE_NAMES } from "../../devices/blk/constants.ts";
import { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import { VirtioConsoleDevice } from "../../devices/console/device.ts";
import * as show from "../kit/format.ts";
import {
  deviceFixture,
  runOnWindow,
  selectedEachTime,
  type WindowRun,
  writesTo,
} from "../kit/mmio.ts";
import { every, ruleFor, sample, thrownFields } from "../kit/rules.ts";
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;

const V1 = featureMask(VIRTIO_F_VERSION_1);
const FLUSH = featureMask(VIRTIO_BLK_F_FLUSH);
const ALL_64 = (1n << 64n) - 1n;
const fx = (word: unknown) => show.featureWord(word, VIRTIO_BLK_FEATURE_NAMES);
const NETBSD_32_BIT_NOTE =
  "VIRTIO_F_VERSION_1 is bit 32: it lives in feature word 1, which a driver handling 32 feature " +
  "bits never sees. NetBSD's virtio_mmio added the version 2 personality on 2 January 2024 (rev. " +
  "1.12); four days later rev. 1.13 had to add virtio 1.0 feature negotiation, because " +
  "hypervisors whose version 2 devices are not transitional refuse a driver that does not " +
  "accept VIRTIO_F_VERSION_1.";
const missesV1 = (got: unknown) =>
  typeof got === "bigint" && (got & V1) === 0n ? NETBSD_32_BIT_NOTE : undefined;

// ------------------------------------------------------------ checkDriverFeatures

/** Sets of feature bits, biased towards the ones that matter; they shrink to the fewest bits. */
const bit = fc.oneof(
  fc.constantFrom(32, 0, 31, 63, 28, 29, 33, 40),
  fc.integer({ min: 0, max: 63 }),
);
const bits = (minLength = 0) =>
  fc.uniqueArray(bit, { minLength, maxLength: 12 }).map((b) => features(...b));
const UNOFFERED = fc.tuple(bits(), bits(), bits(1))
  .map(([offered, pick, extra]) =>
    [offered, (offered & pick) | (extra & ~offered)] as [bigint, bigint]
  )
  .filter(([offered, accepted]) => (accepted & ~offered) !== 0n);
const DECLINED = fc.tuple(bits(), bits()).map(([o, pick]) =>
  [o | V1, o & pick & ~V1] as [bigint, bigint]
);
const VALID = fc.tuple(bits(), bits()).map(([o, pick]) => [o, o & (pick | V1)] as [bigint, bigint]);

const verdict = ruleFor<Impl, [offered: bigint, accepted: bigint], FeatureVerdict>({
  run: (impl, offered, accepted) => impl.checkDriverFeatures(offered, accepted),
  reference: referenceCheck,
  show: (o, a) => `checkDriverFeatures(${formatFeatures(o)}n, ${formatFeatures(a)}n)`,
  result: (v) =>
    v.ok
      ? `{ ok: true, features: ${show.featureWord(v.features)} }`
      : `{ ok: false, requirement: "${v.requirement}", reason: ${show.value(v.reason)} }`,
  shape: (v) =>
    typeof (v as FeatureVerdict)?.ok === "boolean"
      ? undefined
      : "a verdict: { ok: true, features } or { ok: false, requirement, reason }",
}, { hint: 1 });

/** The same verdict, with either id when a choice breaks both rules. */
function agrees(got: FeatureVerdict, want: FeatureVerdict, offered: bigint, accepted: bigint) {
  if (got.ok || want.ok) return got.ok && want.ok && got.features === want.features;
  const both = (accepted & ~offered) !== 0n && (offered & V1) !== 0n && (accepted & V1) === 0n;
  return (both ? ["2.2.1/1", "6.1/1"] : [want.requirement]).includes(got.requirement) &&
    typeof got.reason === "string" && got.reason.trim() !== "";
}

/** The lab's block device register file on a checkDriverFeatures, given a choice at FEATURES_OK. */
function atFeaturesOk(check: Impl["checkDriverFeatures"], choice: string) {
  const dev = deviceFixture({ strict: false, parts: { checkDriverFeatures: check } });
  reference.beginInitialization(dev.raw);
  dev.log.clear();
  reference.writeDriverFeatures(dev.raw, CHOICES[choice](dev.offered));
  reference.addStatus(dev.raw, FEATURES_OK);
  return {
    featuresOk: (dev.status() & FEATURES_OK) !== 0,
    logged: dev.log.entries.map((v) => v.id),
  };
}
const CHOICES: Record<string, (offered: bigint) => bigint> = {
  "an unoffered bit 63": (o) => o | (1n << 63n),
  "no VIRTIO_F_VERSION_1": (o) => o & ~V1,
  "VIRTIO_F_VERSION_1 and VIRTIO_BLK_F_FLUSH": (o) => o & (V1 | FLUSH),
};
const registerFile = ruleFor<Impl, [choice: string], ReturnType<typeof atFeaturesOk>>({
  run: (impl, choice) => atFeaturesOk(impl.checkDriverFeatures, choice),
  reference: (choice) => atFeaturesOk(referenceCheck, choice),
  show: (choice) => `a driver accepting ${choice} and setting FEATURES_OK on the block device`,
  verb: "left",
  result: (r) =>
    `FEATURES_OK ${r.featuresOk ? "set" : "clear"} and logged [${r.logged.join(", ")}]`,
});

// ------------------------------------------------------------ driver side

const block = (offered?: bigint) => {
  const device = new VirtioBlockDevice(new MemoryBlockBackend(32768));
  if (offered !== undefined) Object.defineProperty(device, "deviceFeatures", { value: offered });
  return device;
};
const refusing = (device: VirtioDevice) => {
  device.checkFeatures = () => "this test device refuses every feature set";
  return device;
};
const BLOCK = "the block device";
const CONSOLE = "the console";
const WIDE = "a device offering bits 0, 31, 32 and 63";
const LEGACY = "a legacy-only device (no VIRTIO_F_VERSION_1)";
const DEVICES: Record<string, () => VirtioDevice> = {
  [BLOCK]: () => block(),
  [CONSOLE]: () => new VirtioConsoleDevice(new MemoryConsoleBackend()),
  [WIDE]: () => block(features(0, 31, 32, 63)),
  [LEGACY]: () => block(features(1, 6, 9, 28)),
  "a block device refusing every choice": () => refusing(block()),
  "a console refusing every choice": () =>
    refusing(new VirtioConsoleDevice(new MemoryConsoleBackend())),
  "a device offering bits 0, 31, 32 and 63, refusing every choice": () =>
    refusing(block(features(0, 31, 32, 63))),
};

interface Negotiation extends WindowRun {
  readonly held: bigint;
  readonly negotiated: bigint;
}

/** Runs a driver step on a register file at ACKNOWLEDGE|DRIVER (strict, but for the legacy one). */
function atDriver(device: string, step: (w: RegisterWindow) => unknown): Negotiation {
  const dev = deviceFixture({ device: DEVICES[device](), strict: device !== LEGACY });
  reference.beginInitialization(dev.raw);
  dev.log.clear();
  dev.accesses.length = 0;
  const run = runOnWindow(dev, step);
  const { driverFeatures, negotiatedFeatures } = dev.transport.inspect();
  return { ...run, held: driverFeatures, negotiated: negotiatedFeatures };
}

const returned = (r: WindowRun) => ("returned" in r.outcome ? r.outcome.returned : undefined);
const did = (r: WindowRun) =>
  "returned" in r.outcome ? `returned ${fx(r.outcome.returned)}` : show.outcome(r.outcome);
const error = (r: WindowRun) => thrownFields(r.outcome);
const reread = (r: WindowRun) => {
  const i = r.accesses.findIndex((a) =>
    a.kind === "write" && a.offset === STATUS && (a.value & FEATURES_OK)
  );
  return i >= 0 && r.accesses.slice(i + 1).some((a) => a.kind === "read" && a.offset === STATUS);
};
const driverStep = <C extends unknown[]>(
  call: (part: Impl | typeof reference, w: RegisterWindow, ...c: C) => unknown,
  describeCall: (...c: C) => string,
  result: (r: Negotiation) => string,
) =>
  ruleFor<Impl, [device: string, ...C], Negotiation>({
    run: (impl, device, ...c) => atDriver(device, (w) => call(impl, w, ...c)),
    reference: (device, ...c) => atDriver(device, (w) => call(reference, w, ...c)),
    show: (device, ...c) => `${describeCall(...c)} on ${device}`,
    result,
  }, { hint: 3 });

const read = driverStep(
  (p, w) => p.readDeviceFeatures(w),
  () => "readDeviceFeatures(window)",
  (r) => `${did(r)} after ${show.accesses(r.accesses)}`,
);
const write = driverStep(
  (p, w, choice: bigint) => p.writeDriverFeatures(w, choice),
  (choice) => `writeDriverFeatures(window, ${formatFeatures(choice)}n)`,
  (r) => `the device holding ${fx(r.held)} after ${show.accesses(r.accesses)}`,
);
const negotiate = driverStep(
  (p, w, supported: bigint) => p.negotiateFeatures(w, supported),
  (supported) => `negotiateFeatures(window, ${formatFeatures(supported)}n)`,
  (r) =>
    `${did(r)}; the device holds ${fx(r.held)}, negotiated ${fx(r.negotiated)}; Status ` +
    `${show.status(r.status)}, ${reread(r) ? "" : "not "}read back after FEATURES_OK`,
);
const wordsOf = (data: number, sel: number, kind: "read" | "write") => (r: WindowRun) =>
  selectedEachTime(r.accesses, data, sel, kind, [0, 1]);
const readSelected = wordsOf(DEVICE_FEATURES, DEVICE_FEATURES_SEL, "read");
const writeSelected = wordsOf(DRIVER_FEATURES, DRIVER_FEATURES_SEL, "write");
const REFUSING = ["a block device refusing every choice", "a console refusing every choice"];

export const grader = defineGrader<Impl>({
  lesson: "feature-negotiation",
  checks: [
    // --------------------------------------------------- device side
    verdict({
      name: "a feature the device never offered is refused",
      requirement: "2.2.1/1",
      cases: sample(UNOFFERED, { seed: 0xfea7 }),
      agrees,
      why: 'an accepted bit outside the offer refused with "2.2.1/1" (or "6.1/1" when both apply)',
      cites: () => "2.2.1/1",
    }),
    verdict({
      name: "a driver that declines VIRTIO_F_VERSION_1 is refused",
      requirement: "6.2/2",
      cases: sample(DECLINED, { seed: 0xfea8 }),
      agrees,
      why: 'an offered VIRTIO_F_VERSION_1 that the driver did not accept refused with "6.1/1"',
      cites: () => "6.1/1",
    }),
    verdict({
      name: "a valid choice is accepted exactly as the driver made it",
      requirement: "2.2.2/2",
      cases: sample(VALID, { seed: 0xfea9 }),
      agrees,
      why: "a subset of the offer, with VIRTIO_F_VERSION_1 when offered, accepted as it is",
      note: (got, _w, _o, accepted) =>
        got.ok && got.features !== accepted
          ? "All 64 bits count: keep feature words bigint."
          : undefined,
    }),
    registerFile({
      name: "your device refuses a bad choice of features, in the lab's register file",
      requirement: "2.2.2/2",
      hint: 1,
      cases: every(Object.keys(CHOICES).map((c) => [c] as [string])),
      why:
        "FEATURES_OK left clear and the rule logged for a bad choice, FEATURES_OK set for a valid one",
    }),
    // --------------------------------------------------- driver side
    read({
      name: "readDeviceFeatures selects each word before reading it",
      requirement: "4.2.2.2/7",
      hint: 2,
      cases: every([[BLOCK], [CONSOLE], [WIDE]]),
      verdict: (r) => ({ value: returned(r), selected: readSelected(r) }),
      why: "DeviceFeaturesSel written before each read of DeviceFeatures, and all 64 offered bits",
      note: (got) => missesV1(returned(got)),
    }),
    write({
      name: "writeDriverFeatures selects each word before writing it",
      requirement: "4.2.2.2/8",
      hint: 2,
      cases: every([[BLOCK, V1 | FLUSH], [WIDE, features(0, 31, 32, 63)], [BLOCK, 0n]]),
      verdict: (r) => ({ held: r.held, selected: writeSelected(r) }),
      why: "DriverFeaturesSel written before each write of DriverFeatures, and all 64 bits held",
      note: (got) => missesV1(got.held),
    }),
    negotiate({
      name: "negotiateFeatures accepts what both sides support, plus VIRTIO_F_VERSION_1",
      requirement: "6.1/1",
      cases: every([[BLOCK, 0n], [BLOCK, FLUSH | V1], [CONSOLE, 1n << 1n], [
        WIDE,
        features(31, 63),
      ]]),
      verdict: (r) => ({
        outcome: r.outcome,
        negotiated: r.negotiated,
        status: r.status,
        reread: reread(r),
      }),
      why:
        "offered ∩ supported, plus VIRTIO_F_VERSION_1, returned and negotiated; Status 0x0b, read back",
      note: (got) => missesV1(returned(got)),
    }),
    negotiate({
      name: "negotiateFeatures never accepts a feature that was not offered",
      requirement: "2.2.1/1",
      cases: every([[BLOCK, ALL_64], [WIDE, ALL_64 & ~features(0)]]),
      verdict: (r) => ({ outcome: r.outcome, held: r.held }),
      why: "only offered bits written and returned, whatever the driver supports",
    }),
    negotiate({
      name: "negotiateFeatures re-reads Status: FEATURES_OK must stick",
      requirement: "3.1.1/1",
      hint: 4,
      cases: every(REFUSING.map((d) => [d, FLUSH] as [string, bigint])),
      verdict: (r) => ({
        name: error(r).name,
        offered: error(r).offered,
        accepted: error(r).accepted,
      }),
      why:
        "a FeatureNegotiationError with the features offered and accepted, once Status shows FEATURES_OK clear",
    }),
    negotiate({
      name: "a refused negotiation ends with FAILED",
      requirement: "2.2.1/2",
      hint: 4,
      cases: every([[REFUSING[0], FLUSH], [
        "a device offering bits 0, 31, 32 and 63, refusing every choice",
        ALL_64,
      ]]),
      verdict: (r) => ({ threw: "threw" in r.outcome, status: r.status }),
      why: "FAILED added to ACKNOWLEDGE|DRIVER (Status 0x83), no DRIVER_OK, and an error thrown",
      note: (
        got,
      ) => (got.status & DRIVER_OK ? "Initialization stops after a failure (3.1.1/5)." : undefined),
    }),
    negotiate({
      name: "negotiateFeatures gives up on a legacy-only device",
      requirement: "6.1/2",
      hint: 4,
      cases: every([[LEGACY, ALL_64], [LEGACY, V1]]),
      verdict: (r) => ({
        name: error(r).name,
        accepted: error(r).accepted,
        status: r.status,
        featuresOk: writesTo(r.accesses, STATUS).some((v) => v & FEATURES_OK),
        written: writesTo(r.accesses, DRIVER_FEATURES).length,
      }),
      why:
        "a FeatureNegotiationError (accepted 0n) and FAILED, with no feature written and no FEATURES_OK",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "feature-negotiation",
      name: "your negotiation runs the lab machine",
      requirement: "6.1/1",
      hint: 3,
      expects:
        "the lab machine, on your checkDriverFeatures and negotiateFeatures and a strict log, " +
        "to negotiate offered ∩ supported plus VIRTIO_F_VERSION_1 and carry console and disk traffic",
      lesson,
      also(machine) {
        for (const d of [machine.blk, machine.console]) {
          const want = d.transport.offeredFeatures & (d.driver!.supportedFeatures | V1);
          expectEqual(
            d.driverTransport.features,
            want,
            `the features negotiated with ${d.device.name}`,
            {
              format: fx,
              requires: `offered ∩ supported plus VIRTIO_F_VERSION_1, for ${d.device.name}: ${
                fx(want)
              }`,
            },
          );
        }
      },
    }),
  ],
});
