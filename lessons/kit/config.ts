/**
 * Configuration space on trial: the accesses a device-side check is swept over
 * (`CONFIG_SPACES`, `CONFIG_ACCESSES`), a scripted device whose configuration
 * changes during chosen runs of a driver's consistent read (`CONSISTENT_CASES`,
 * `runConsistent`), and 64-bit fields, some changing between their two halves
 * (`WIDE_CASES`, `runWide`). Everything runs on a recorded window with an
 * access budget, so a loop that never gives up fails instead of hanging.
 *
 * @module
 */

import type { configChanged, ConfigSpaceView } from "../../transport/config_space.ts";
import {
  addStatus,
  beginInitialization,
  writeDriverFeatures,
} from "../../transport/mmio_driver.ts";
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK } from "../../virtio/status.ts";
import { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import { VirtioConsoleDevice } from "../../devices/console/device.ts";
import {
  ConfigGenerationError,
  type readConfig64,
  readConfigConsistent,
} from "../../transport/driver_config.ts";
import {
  VIRTIO_MMIO_CONFIG as CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION as GENERATION,
  VIRTIO_MMIO_INTERRUPT_STATUS as INTERRUPT_STATUS,
} from "../../transport/mmio_registers.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { AccessWidth } from "../../virtio/device.ts";
import { featureMask, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";
import {
  VIRTIO_BLK_CONFIG_LAYOUT,
  VIRTIO_BLK_CONFIG_SIZE,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_CONFIG_WCE,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_FEATURE_NAMES,
} from "../../devices/blk/constants.ts";
import {
  VIRTIO_CONSOLE_CONFIG_LAYOUT,
  VIRTIO_CONSOLE_CONFIG_SIZE,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_SIZE,
} from "../../devices/console/constants.ts";
import { accessPattern } from "./format.ts";
import { type Access, deviceFixture, scriptedWindow } from "./mmio.ts";
import { attempt, type Cases, every, type Outcome } from "./rules.ts";

/** A consistent-read step, as `readConfigConsistent`. */
export type ConsistentStep = typeof readConfigConsistent;

const V1 = featureMask(VIRTIO_F_VERSION_1);
const bits = (...b: number[]) => b.reduce((w, n) => w | featureMask(n), V1);

// ------------------------------------------------------------ access checks

/**
 * Configuration spaces to sweep a `checkConfigAccess` over, by name: the lab's block and console
 * layouts, each with the features the lab offers and with others (a writable `writeback`; no
 * optional field at all).
 */
export const CONFIG_SPACES: Readonly<Record<string, Omit<ConfigSpaceView, "status">>> = Object
  .freeze({
    "the block device": {
      size: VIRTIO_BLK_CONFIG_SIZE,
      layout: VIRTIO_BLK_CONFIG_LAYOUT,
      offered: bits(VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE),
      featureNames: VIRTIO_BLK_FEATURE_NAMES,
    },
    "a block device offering VIRTIO_BLK_F_CONFIG_WCE": {
      size: VIRTIO_BLK_CONFIG_SIZE,
      layout: VIRTIO_BLK_CONFIG_LAYOUT,
      offered: bits(VIRTIO_BLK_F_CONFIG_WCE, VIRTIO_BLK_F_BLK_SIZE),
      featureNames: VIRTIO_BLK_FEATURE_NAMES,
    },
    "the console": {
      size: VIRTIO_CONSOLE_CONFIG_SIZE,
      layout: VIRTIO_CONSOLE_CONFIG_LAYOUT,
      offered: bits(VIRTIO_CONSOLE_F_SIZE, VIRTIO_CONSOLE_F_EMERG_WRITE),
    },
    "a console offering nothing optional": {
      size: VIRTIO_CONSOLE_CONFIG_SIZE,
      layout: VIRTIO_CONSOLE_CONFIG_LAYOUT,
      offered: V1,
    },
  });
/** Status bytes a read is tried at: reset, negotiating, FEATURES_OK, live. */
const READ_STATUSES = [0x00, 0x03, 0x0b, 0x0f];
/** Status bytes a write is tried at: those, ACKNOWLEDGE or DRIVER alone, FAILED ones. */
const WRITE_STATUSES = [0x00, 0x01, 0x02, 0x03, 0x0b, 0x0f, 0x83, 0x8b];
/** One access: space name, offset in configuration space, width, kind, status byte. */
export type ConfigAccessCase = [
  space: string,
  offset: number,
  width: AccessWidth,
  kind: "read" | "write",
  status: number,
];
/**
 * Every access from offset 0 to 3 bytes past the end of each space, at every width, read at
 * {@linkcode READ_STATUSES} and written at {@linkcode WRITE_STATUSES}: about 8,000 cases.
 */
export const CONFIG_ACCESSES: Cases<ConfigAccessCase> = every(function* () {
  for (const [name, space] of Object.entries(CONFIG_SPACES)) {
    for (let offset = 0; offset < space.size + 4; offset++) {
      for (const width of [1, 2, 4] as const) {
        for (const s of READ_STATUSES) yield [name, offset, width, "read", s] as ConfigAccessCase;
        for (const s of WRITE_STATUSES) yield [name, offset, width, "write", s] as ConfigAccessCase;
      }
    }
  }
});
/** What a console's register file showed at each moment of {@linkcode resizedConsole}. */
export type ConsoleResizes = Record<string, { generation: number; configInterrupt: boolean }>;

/**
 * The lab's register file for a console (80x25) on a `configChanged` part: read at reset,
 * resized to 100x30 while the driver negotiates, brought to DRIVER_OK, resized to 132x43.
 * At each moment, `ConfigGeneration` and whether the configuration change bit is set.
 *
 * @param part The device's `configChanged` step.
 * @returns Moment name to what the registers read.
 */
export function resizedConsole(part: typeof configChanged): ConsoleResizes {
  const backend = new MemoryConsoleBackend({ size: { cols: 80, rows: 25 } });
  const dev = deviceFixture({
    device: new VirtioConsoleDevice(backend),
    strict: false,
    parts: { configChanged: part },
  });
  const seen = () => ({
    generation: dev.raw.read32(GENERATION) >>> 0,
    configInterrupt: (dev.raw.read32(INTERRUPT_STATUS) & 2) !== 0,
  });
  const at: ConsoleResizes = { reset: seen() };
  beginInitialization(dev.raw);
  backend.resize(100, 30);
  at["resized while negotiating"] = seen();
  writeDriverFeatures(dev.raw, dev.offered & (V1 | featureMask(VIRTIO_CONSOLE_F_SIZE)));
  addStatus(dev.raw, VIRTIO_CONFIG_S_FEATURES_OK);
  addStatus(dev.raw, VIRTIO_CONFIG_S_DRIVER_OK);
  at["live"] = seen();
  backend.resize(132, 43);
  at["resized while live"] = seen();
  return at;
}

// ------------------------------------------------------------ consistent reads

/** A device a consistent-read step (`readConfigConsistent`) is tried on. */
export interface ConsistentCase {
  /** What the device does, for messages. */
  readonly name: string;
  /** ConfigGeneration at the start. */
  readonly start: number;
  /** The runs of `read` (1-based) during which the device changes its configuration. */
  readonly changesDuring: readonly number[] | "every";
  /** The third argument, or absent for the default. */
  readonly maxTries?: number;
}
/**
 * Devices that change nothing, change during some runs of the read (the last allowed one
 * settling), change during every run (given up on), and `maxTries` that are refused.
 */
export const CONSISTENT_CASES: readonly ConsistentCase[] = Object.freeze([
  { name: "a device that changes nothing", start: 0, changesDuring: [] },
  {
    name: "a device that changes nothing, generation 0xffffffff",
    start: 0xffff_ffff,
    changesDuring: [],
  },
  { name: "a change during run 1", start: 4, changesDuring: [1] },
  {
    name: "a change during run 1, the generation wrapping to 0",
    start: 0xffff_ffff,
    changesDuring: [1],
  },
  { name: "changes during runs 1, 2 and 3", start: 0x7fff_fffe, changesDuring: [1, 2, 3] },
  {
    name: "changes during runs 1 to 4, maxTries 5",
    start: 9,
    changesDuring: [1, 2, 3, 4],
    maxTries: 5,
  },
  { name: "a change during run 1, maxTries 2", start: 9, changesDuring: [1], maxTries: 2 },
  { name: "changes during every run, maxTries 3", start: 20, changesDuring: "every", maxTries: 3 },
  {
    name: "changes during every run, maxTries 1",
    start: 0xffff_fffe,
    changesDuring: "every",
    maxTries: 1,
  },
  { name: "changes during every run, the default maxTries", start: 0, changesDuring: "every" },
  { name: "maxTries 0", start: 0, changesDuring: [], maxTries: 0 },
  { name: "maxTries -1", start: 0, changesDuring: [], maxTries: -1 },
  { name: "maxTries NaN", start: 0, changesDuring: [], maxTries: NaN },
]);
/** Whether a case settles: its first run with no change during it is within `maxTries`. */
export function settles(c: ConsistentCase): boolean {
  const max = c.maxTries ?? 100;
  if (c.changesDuring === "every" || !(max >= 1)) return false;
  let run = 1;
  while (c.changesDuring.includes(run)) run++;
  return run <= max;
}
/** Runs of `read` after which a step that never gives up is stopped. */
export const RUN_LIMIT = 1000;

/** What a consistent-read step did on a case. */
export interface Consistency {
  /** Returned (the run's `{ run, low, high }`) or threw. */
  readonly outcome: Outcome<unknown>;
  /** How many times it ran `read`. */
  readonly runs: number;
  /** The part's own accesses (not those of `read`), as patterns. */
  readonly own: readonly string[];
}
/** The value the scripted field holds in configuration state `k`: a u64 whose halves both move. */
const stateValue = (k: number) => ({ low: (0xffff_ff00 + k) >>> 0, high: k });

/**
 * Runs a consistent-read step on a scripted device: its `read` reads a 64-bit field in two
 * halves, and on the case's runs the device changes the field (both halves) and moves
 * `ConfigGeneration` between them. Budgets stop a step that never gives up.
 *
 * @param part The step.
 * @param c The case.
 * @returns What it did.
 */
export function runConsistent(part: ConsistentStep, c: ConsistentCase): Consistency {
  let generation = c.start >>> 0;
  let state = 0;
  let runs = 0;
  const insideRead = new Set<Access>();
  const { window, accesses } = scriptedWindow(
    (o) => {
      if (o === GENERATION) return generation;
      if (o === CONFIG) return stateValue(state).low;
      if (o === CONFIG + 4) return stateValue(state).high;
      return 0;
    },
    undefined,
    4000,
  );
  const read = () => {
    if (++runs > RUN_LIMIT) {
      throw new RangeError(`read ran more than ${RUN_LIMIT} times: a loop that never gives up`);
    }
    const mark = accesses.length;
    const low = window.read32(CONFIG) >>> 0;
    const changing = c.changesDuring === "every" || c.changesDuring.includes(runs);
    if (changing) {
      generation = (generation + 1) >>> 0;
      state++;
    }
    const high = window.read32(CONFIG + 4) >>> 0;
    for (const a of accesses.slice(mark)) insideRead.add(a);
    return { run: runs, low, high };
  };
  const outcome = attempt(() =>
    c.maxTries === undefined ? part(window, read) : part(window, read, c.maxTries)
  );
  return {
    outcome,
    runs,
    own: accesses.filter((a) => !insideRead.has(a)).map(accessPattern),
  };
}
// ------------------------------------------------------------ 64-bit fields

/** A 64-bit field a `readConfig64` is tried on. */
export interface WideCase {
  /** What the field does, for messages. */
  readonly name: string;
  /** Its offset in configuration space, in bytes. */
  readonly offset: number;
  /** Its value. */
  readonly value: bigint;
  /** The value it changes to right before its high word is first read. */
  readonly changesTo?: bigint;
  /** The consistent step gives up at once instead of running anything. */
  readonly givesUp?: boolean;
}
/** Values around 2^31, 2^32, 2^53 and 2^64, two fields that change between the halves, a step that gives up. */
export const WIDE_CASES: readonly WideCase[] = Object.freeze([
  { name: "capacity 0", offset: 0, value: 0n },
  { name: "capacity 2048 sectors", offset: 0, value: 2048n },
  { name: "capacity 0xffffffff", offset: 0, value: 0xffff_ffffn },
  { name: "capacity 2^32 sectors (2 TiB)", offset: 0, value: 0x1_0000_0000n },
  { name: "capacity 0x80000001_80000001", offset: 0, value: 0x8000_0001_8000_0001n },
  { name: "capacity 2^53 + 1", offset: 0, value: 2n ** 53n + 1n },
  { name: "capacity 2^64 - 1", offset: 0, value: 2n ** 64n - 1n },
  { name: "a 64-bit field at offset 8", offset: 8, value: 0x0123_4567_89ab_cdefn },
  {
    name: "a disk growing from 0xffffffff to 2^32 sectors between the halves",
    offset: 0,
    value: 0xffff_ffffn,
    changesTo: 0x1_0000_0000n,
  },
  {
    name: "a field at offset 8 changing from 2^32 to 0xffffffff between the halves",
    offset: 8,
    value: 0x1_0000_0000n,
    changesTo: 0xffff_ffffn,
  },
  { name: "a consistent step that gives up", offset: 0, value: 7n, givesUp: true },
]);
/** What a `readConfig64` did on a case. */
export interface Wide {
  /** Returned or threw. */
  readonly outcome: Outcome<unknown>;
  /** Each run of the consistent step's callback: its accesses, as patterns. */
  readonly runs: readonly string[][];
  /** Accesses to configuration space made outside the consistent step. */
  readonly outside: readonly string[];
  /** Calls of the consistent step. */
  readonly calls: number;
}
/**
 * Runs a 64-bit read on a scripted field, with the reference consistent-read step wrapped to
 * record each run of its callback (or a step that throws a `ConfigGenerationError` at once).
 * A field that changes does so right before its high word is first read.
 *
 * @param part The 64-bit read.
 * @param c The case.
 * @returns What it did.
 */
export function runWide(part: typeof readConfig64, c: WideCase): Wide {
  let value = c.value;
  let generation = 1;
  let changed = c.changesTo === undefined;
  const word = (v: bigint, high: boolean) => Number((high ? v >> 32n : v) & 0xffff_ffffn);
  const { window, accesses } = scriptedWindow(
    (o) => {
      if (o === GENERATION) return generation;
      if (o === CONFIG + c.offset + 4 && !changed) {
        changed = true;
        value = c.changesTo!;
        generation++;
      }
      if (o === CONFIG + c.offset) return word(value, false);
      if (o === CONFIG + c.offset + 4) return word(value, true);
      return o >= CONFIG ? 0x5a5a_5a5a : 0;
    },
    undefined,
    4000,
  );
  const runs: string[][] = [];
  const seen = new Set<Access>();
  let calls = 0;
  const step = <R>(w: RegisterWindow, read: () => R): R => {
    calls++;
    if (c.givesUp) throw new ConfigGenerationError(100, 5, 6);
    return readConfigConsistent(w, () => {
      const mark = accesses.length;
      try {
        return read();
      } finally {
        const mine = accesses.slice(mark).filter((a) => a.offset >= CONFIG);
        mine.forEach((a) => seen.add(a));
        runs.push(mine.map(accessPattern));
      }
    });
  };
  const outcome = attempt(() => part(window, c.offset, step));
  const outside = accesses.filter((a) => a.offset >= CONFIG && !seen.has(a)).map(
    accessPattern,
  );
  return { outcome, runs, outside, calls };
}
