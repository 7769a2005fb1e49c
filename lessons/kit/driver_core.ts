/**
 * The driver core on trial: `bindDriver` over probe results and
 * registrations, `initializeDevice` on a real register file with each step
 * made to fail in turn, as data and runs a grader compares against the
 * reference. Each run records what a learner can act on: which drivers were
 * created, the Status writes in order, when `setup` ran, which steps were
 * called through the table given, and what was returned or thrown.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { RequirementId } from "../../conformance/requirements.ts";
import {
  bindDriver,
  type DriverBinding,
  type InitializationSteps,
  initializeDevice,
} from "../../transport/driver_core.ts";
import {
  beginInitialization,
  failDevice,
  negotiateFeatures,
  type ProbeResult,
} from "../../transport/driver_init.ts";
import { VIRTIO_MMIO_STATUS } from "../../transport/mmio_registers.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { DriverRegistration, VirtioDriver } from "../../virtio/driver.ts";
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_NEEDS_RESET } from "../../virtio/status.ts";
import { status as showStatus } from "./format.ts";
import { deviceFixture } from "./mmio.ts";
import { thrown } from "./rules.ts";

// ---------------------------------------------------------------------------------- bindDriver

/** One call of `bindDriver`: a probe result and the registrations, made afresh for each run. */
export interface BindCase {
  /** The call, in words. */
  readonly show: string;
  /** What probing found. */
  readonly found: ProbeResult;
  /** The registrations: `[name, deviceId, drives]` (`drives`: the created driver's own DeviceID). */
  readonly registrations: readonly (readonly [string, number, number?])[];
}

/** What a `bindDriver` call did. */
export interface BindRun {
  /** The driver's name, or `null`. */
  readonly driver: string | null;
  /** The reason given. */
  readonly reason: string;
  /** `create()` calls, by registration name. */
  readonly creates: Readonly<Record<string, number>>;
  /** Whether the driver returned is the instance `create()` made in this call. */
  readonly fresh: boolean;
  /** What it threw, if anything. */
  readonly threw?: unknown;
}

/**
 * Runs one case.
 *
 * @param fn A `bindDriver`.
 * @param c The case.
 */
export function runBind(fn: typeof bindDriver, c: BindCase): BindRun {
  const creates: Record<string, number> = {};
  const made = new Set<VirtioDriver>();
  const registrations: DriverRegistration[] = c.registrations.map(([name, deviceId, drives]) => ({
    deviceId,
    name,
    create() {
      creates[name] = (creates[name] ?? 0) + 1;
      const driver: VirtioDriver = {
        name,
        deviceId: drives ?? deviceId,
        supportedFeatures: 0n,
        probe() {},
      };
      made.add(driver);
      return driver;
    },
  }));
  let binding: DriverBinding;
  try {
    binding = fn(c.found, registrations);
  } catch (threw) {
    return { driver: null, reason: "", creates, fresh: false, threw };
  }
  const driver = binding?.driver ?? null;
  return {
    driver: driver?.name ?? null,
    reason: String((binding as { reason?: unknown } | undefined)?.reason ?? ""),
    creates,
    fresh: driver !== null && made.has(driver),
    ...(binding && typeof binding === "object"
      ? {}
      : { threw: new TypeError("returned no binding") }),
  };
}

/** A `bindDriver` run, for a failure message. */
export function showBind(r: BindRun): string {
  if (r.threw !== undefined) return `threw ${thrown(r.threw)}`;
  const created = Object.entries(r.creates).map(([n, k]) => `${n} ${k}x`).join(", ") || "none";
  return `returned { driver: ${r.driver ?? "null"}${
    r.driver && !r.fresh ? " (not the instance create() made)" : ""
  }, reason: ${JSON.stringify(r.reason)} } (create() calls: ${created})`;
}

const BLK: readonly [string, number] = ["virtio_blk", 2];
const CON: readonly [string, number] = ["virtio_console", 3];
const device = (deviceId: number): ProbeResult => ({
  kind: "device",
  deviceId,
  vendorId: 0x554d4551,
  version: 2,
});
const rejected = (reason: string): ProbeResult => ({
  kind: "rejected",
  requirement: "4.2.3.1.1/1",
  reason,
  magic: 0x1234_5678,
  version: 2,
});

/** A bindDriver rule: its cases and the part of a run it decides. */
export interface BindRow {
  readonly name: string;
  readonly requirement: RequirementId;
  readonly hint: number;
  readonly why: string;
  readonly cases: readonly BindCase[];
  readonly verdict: (r: BindRun) => string;
  readonly reference: typeof bindDriver;
}

const bindRow = (row: Omit<BindRow, "reference">): BindRow => ({ ...row, reference: bindDriver });

/** The rows of `bindDriver`. */
export const BIND_ROWS: readonly BindRow[] = [
  bindRow({
    name: "an empty slot gets no driver and no complaint",
    requirement: "4.2.2.2/6",
    hint: 2,
    why: 'DeviceID 0 is a placeholder: no driver, reason "", no create() called',
    cases: [
      {
        show: '{ kind: "empty" }, [virtio_blk, virtio_console]',
        found: { kind: "empty" },
        registrations: [BLK, CON],
      },
      { show: '{ kind: "empty" }, []', found: { kind: "empty" }, registrations: [] },
    ],
    verdict: (r) => JSON.stringify([r.driver, r.reason, r.creates, r.threw !== undefined]),
  }),
  bindRow({
    name: "a window the probe rejected, or no driver is for, gets none, with a reason",
    requirement: "4.2.3.1.1/4",
    hint: 2,
    why: "no driver and a non-empty reason (a rejected window's own reason), no create() called",
    cases: [
      {
        show: "rejected (bad MagicValue), [virtio_blk]",
        found: rejected('MagicValue is 0x12345678, not "virt"'),
        registrations: [BLK],
      },
      {
        show: "DeviceID 1 (network card), [virtio_blk, virtio_console]",
        found: device(1),
        registrations: [BLK, CON],
      },
      { show: "DeviceID 2, []", found: device(2), registrations: [] },
      { show: "DeviceID 0x1d, [virtio_blk]", found: device(0x1d), registrations: [BLK] },
    ],
    verdict: (r) =>
      JSON.stringify([
        r.driver,
        r.reason.length > 0,
        r.reason.includes("MagicValue"),
        r.creates,
        r.threw !== undefined,
      ]),
  }),
  bindRow({
    name: "a device gets a fresh instance of the first driver registered for its DeviceID",
    requirement: "3.1.1/1",
    hint: 2,
    why:
      'the first registration whose deviceId matches; its create() called once, its instance returned, reason ""',
    cases: [
      {
        show: "DeviceID 2, [virtio_blk, virtio_console]",
        found: device(2),
        registrations: [BLK, CON],
      },
      {
        show: "DeviceID 3, [virtio_blk, virtio_console]",
        found: device(3),
        registrations: [BLK, CON],
      },
      {
        show: "DeviceID 3, [console_a (3), console_b (3)]",
        found: device(3),
        registrations: [["console_a", 3], ["console_b", 3]],
      },
      {
        show: "DeviceID 2, [virtio_console, virtio_blk]",
        found: device(2),
        registrations: [CON, BLK],
      },
    ],
    verdict: (r) => JSON.stringify([r.driver, r.fresh, r.reason, r.creates, r.threw !== undefined]),
  }),
  bindRow({
    name: "a driver that drives another device type is refused",
    requirement: "3.1.1/1",
    hint: 2,
    why:
      "a registration for DeviceID 2 whose driver says it drives DeviceID 3 gets no binding, with a reason",
    cases: [
      {
        show: "DeviceID 2, [liar (registered for 2, drives 3)]",
        found: device(2),
        registrations: [["liar", 2, 3]],
      },
    ],
    verdict: (r) => JSON.stringify([r.driver, r.reason.length > 0, r.threw !== undefined]),
  }),
];

// ----------------------------------------------------------------------------- initializeDevice

/** How an `initializeDevice` case breaks the bring-up, if it does. */
export type InitFault =
  | "none"
  | "reset-fails"
  | "negotiation-fails"
  | "negotiation-fails-after-failed"
  | "setup-throws"
  | "setup-rejects"
  | "needs-reset-at-driver-ok"
  | "retry-after-failure";

/** One `initializeDevice` case. */
export interface InitCase {
  /** The setting, in words. */
  readonly show: string;
  /** The fault. */
  readonly fault: InitFault;
}

/** What an `initializeDevice` run did. */
export interface CoreRun {
  /** What happened, in words. */
  readonly story: string;
  /** Status writes, in order, with `setup` marked where it ran (`"setup"`). */
  readonly writes: readonly (number | "setup")[];
  /** Status afterwards. */
  readonly status: number;
  /** The features returned, if it resolved. */
  readonly features?: bigint;
  /** What it rejected with, if it did. */
  readonly threw?: unknown;
  /** Whether the rejection is the failing step's own error. */
  readonly sameError: boolean;
  /** Which steps of the table given it called, in order. */
  readonly steps: readonly string[];
}

const SUPPORTED = (1n << 32n) | 0x0000_0046n; // VERSION_1, BLK_SIZE, SEG_MAX, SIZE_MAX

/**
 * Runs one case on a fresh block device's register file (probed, not
 * strict), with recording steps around the reference transport steps and a
 * setup that records when it ran.
 *
 * @param fn An `initializeDevice`.
 * @param c The case.
 */
export async function runInit(fn: typeof initializeDevice, c: InitCase): Promise<CoreRun> {
  const fx = deviceFixture({ strict: false });
  const writes: (number | "setup")[] = [];
  let needsReset = false;
  const window: RegisterWindow = {
    read32(offset) {
      const v = fx.window.read32(offset);
      return offset === VIRTIO_MMIO_STATUS && needsReset ? v | VIRTIO_CONFIG_S_NEEDS_RESET : v;
    },
    write32(offset, value) {
      if (offset === VIRTIO_MMIO_STATUS) writes.push(value >>> 0);
      if (offset === VIRTIO_MMIO_STATUS && c.fault === "needs-reset-at-driver-ok") {
        needsReset = (value & VIRTIO_CONFIG_S_DRIVER_OK) !== 0;
      }
      fx.window.write32(offset, value);
    },
  } as RegisterWindow;
  const failure = new Error(`the injected failure (${c.fault})`);
  const steps: string[] = [];
  let attempt = 0;
  const table: InitializationSteps = {
    beginInitialization(w) {
      steps.push("beginInitialization");
      if (c.fault === "reset-fails" || (c.fault === "retry-after-failure" && attempt === 0)) {
        throw failure;
      }
      beginInitialization(w);
    },
    negotiateFeatures(w, supported) {
      steps.push("negotiateFeatures");
      if (c.fault === "negotiation-fails") throw failure;
      if (c.fault === "negotiation-fails-after-failed") {
        failDevice(w);
        throw failure;
      }
      return negotiateFeatures(w, supported);
    },
    failDevice(w) {
      steps.push("failDevice");
      failDevice(w);
    },
  };
  const setup = {
    supportedFeatures: SUPPORTED,
    setup(): void | Promise<void> {
      writes.push("setup");
      if (c.fault === "setup-throws") throw failure;
      if (c.fault === "setup-rejects") return Promise.reject(failure);
    },
  };
  let features: bigint | undefined;
  let threw: unknown;
  const once = async () => {
    try {
      features = await fn(window, setup, table);
      threw = undefined;
    } catch (error) {
      threw = error;
    }
  };
  await once();
  if (c.fault === "retry-after-failure") {
    attempt = 1;
    await once();
  }
  const status = fx.transport.status;
  const sameError = threw === failure ||
    (c.fault === "needs-reset-at-driver-ok" && threw instanceof Error &&
        threw.name === "DeviceInitializationError" &&
        ((threw as { status?: number }).status ?? 0) & VIRTIO_CONFIG_S_NEEDS_RESET) !== 0;
  const shown = writes.map((w) => (w === "setup" ? "setup()" : showStatus(w))).join(", ");
  const story = `Status writes [${shown}], Status ${showStatus(status)} afterwards, steps called ` +
    `[${steps.join(", ")}], ` +
    (threw === undefined
      ? `resolved to 0x${features?.toString(16)}`
      : `rejected with ${thrown(threw)}${sameError ? "" : " (not the failing step's error)"}`);
  return { story, writes, status, features, threw, sameError, steps };
}

/** An initializeDevice rule. */
export interface InitRow {
  readonly name: string;
  readonly requirement: RequirementId;
  readonly hint: number;
  readonly why: string;
  readonly cases: readonly InitCase[];
  readonly verdict: (r: CoreRun) => string;
  readonly reference: typeof initializeDevice;
}

const initRow = (row: Omit<InitRow, "reference">): InitRow => ({
  ...row,
  reference: initializeDevice,
});
const healthy: InitCase = { show: "a healthy block device", fault: "none" };
const failing: readonly InitCase[] = [
  { show: "a device whose reset step fails", fault: "reset-fails" },
  { show: "a device that refuses the features", fault: "negotiation-fails" },
  { show: "a device whose setup throws", fault: "setup-throws" },
  { show: "a device whose setup rejects (async)", fault: "setup-rejects" },
  {
    show: "a device that answers DRIVER_OK with DEVICE_NEEDS_RESET",
    fault: "needs-reset-at-driver-ok",
  },
];

/** The rows of `initializeDevice`. */
export const INIT_ROWS: readonly InitRow[] = [
  initRow({
    name: "initializeDevice runs §3.1.1 in order, over the steps it is given",
    requirement: "3.1.1/1",
    hint: 3,
    why: "reset, ACKNOWLEDGE, DRIVER (beginInitialization), FEATURES_OK (negotiateFeatures), " +
      "setup() once, then DRIVER_OK, every step through the table given",
    cases: [healthy],
    verdict: (r) => JSON.stringify([r.writes, r.steps]),
  }),
  initRow({
    name: "each step is recorded in Status, and the negotiated features returned",
    requirement: "2.1.1/1",
    hint: 3,
    why:
      "Status ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK (0x0f) afterwards, DRIVER_OK added " +
      "without clearing a bit, and the promise resolving to negotiateFeatures' result",
    cases: [healthy],
    verdict: (r) => `${r.status}/${r.features}/${r.threw === undefined}`,
  }),
  initRow({
    name: "a failing step sets FAILED, once",
    requirement: "3.1.1/4",
    hint: 2,
    why: "FAILED (0x80) set through steps.failDevice when a step fails, and not a second time " +
      "when the step has set it already",
    cases: [...failing, {
      show: "negotiation that sets FAILED itself and throws",
      fault: "negotiation-fails-after-failed",
    }],
    verdict: (r) =>
      `${(r.status & 0x80) !== 0}/${r.steps.filter((s) => s === "failDevice").length}`,
  }),
  initRow({
    name: "after a failure nothing more is done, and the step's error is what it rejects with",
    requirement: "3.1.1/5",
    hint: 2,
    why: "no later step and no DRIVER_OK after the failing one, and a rejection with that " +
      "step's own error (a DeviceInitializationError for DEVICE_NEEDS_RESET)",
    cases: failing,
    verdict: (r) =>
      JSON.stringify([
        r.writes.filter((w) =>
          w !== "setup" && (w & VIRTIO_CONFIG_S_DRIVER_OK) && !((w & 0x80) !== 0)
        ).length,
        r.writes.filter((w) => w === "setup").length,
        r.steps.filter((s) => s !== "failDevice"),
        r.threw !== undefined,
        r.sameError,
      ]),
  }),
  initRow({
    name: "a retry after a failure starts with the reset",
    requirement: "2.1.1/3",
    hint: 2,
    why: "a second call, after one that failed and set FAILED, begins with beginInitialization " +
      "(the reset) and brings the device up",
    cases: [{ show: "a device whose first reset fails, then works", fault: "retry-after-failure" }],
    verdict: (r) => `${r.status}/${r.threw === undefined}/${r.steps.join(",")}`,
  }),
];
