/**
 * The virtio-mmio register map (virtio v1.2 §4.2.2) as data, with the Linux
 * UAPI names of `linux/virtio_mmio.h`, and the two identification and
 * access-rule functions every MMIO device needs:
 *
 * - {@linkcode checkRegisterAccess}: may the driver make this access at all?
 *   (§4.2.2.2: only described registers, 32-bit aligned accesses, no writes to
 *   read-only and no reads of write-only registers)
 * - {@linkcode readIdentification}: the values of `MagicValue`, `Version`,
 *   `DeviceID` and `VendorID` (§4.2.2, §4.2.2.1).
 *
 * Both are parts of the device side (`parts.ts`): the register file calls them
 * through its parts table, so other versions plug into the same machine.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";

/** Offset of `MagicValue` (R): 0x74726976, "virt" in little-endian ASCII. */
export const VIRTIO_MMIO_MAGIC_VALUE = 0x000;
/** Offset of `Version` (R): 2 for the modern interface, 1 for legacy. */
export const VIRTIO_MMIO_VERSION = 0x004;
/** Offset of `DeviceID` (R): the virtio device type, 0 for an empty slot. */
export const VIRTIO_MMIO_DEVICE_ID = 0x008;
/** Offset of `VendorID` (R). */
export const VIRTIO_MMIO_VENDOR_ID = 0x00c;
/** Offset of `DeviceFeatures` (R): 32 feature bits chosen by `DeviceFeaturesSel`. */
export const VIRTIO_MMIO_DEVICE_FEATURES = 0x010;
/** Offset of `DeviceFeaturesSel` (W). */
export const VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014;
/** Offset of `DriverFeatures` (W): 32 feature bits chosen by `DriverFeaturesSel`. */
export const VIRTIO_MMIO_DRIVER_FEATURES = 0x020;
/** Offset of `DriverFeaturesSel` (W). */
export const VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024;
/** Legacy only (§4.2.4): `GuestPageSize` (W). */
export const VIRTIO_MMIO_GUEST_PAGE_SIZE = 0x028;
/** Offset of `QueueSel` (W): selects the queue the `Queue*` registers address. */
export const VIRTIO_MMIO_QUEUE_SEL = 0x030;
/** Offset of `QueueNumMax` (R): largest queue size the device supports, 0 if the queue does not exist. */
export const VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034;
/** Offset of `QueueNum` (W): the queue size the driver chose, in descriptors. */
export const VIRTIO_MMIO_QUEUE_NUM = 0x038;
/** Legacy only (§4.2.4): `QueueAlign` (W). */
export const VIRTIO_MMIO_QUEUE_ALIGN = 0x03c;
/** Legacy only (§4.2.4): `QueuePFN` (RW). */
export const VIRTIO_MMIO_QUEUE_PFN = 0x040;
/** Offset of `QueueReady` (RW). */
export const VIRTIO_MMIO_QUEUE_READY = 0x044;
/** Offset of `QueueNotify` (W): available buffer notification, value = queue index. */
export const VIRTIO_MMIO_QUEUE_NOTIFY = 0x050;
/** Offset of `InterruptStatus` (R). */
export const VIRTIO_MMIO_INTERRUPT_STATUS = 0x060;
/** Offset of `InterruptACK` (W). */
export const VIRTIO_MMIO_INTERRUPT_ACK = 0x064;
/** Offset of `Status` (RW): the device status field of §2.1. */
export const VIRTIO_MMIO_STATUS = 0x070;
/** Offset of `QueueDescLow` (W): Descriptor Area address, bits 0..31. */
export const VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080;
/** Offset of `QueueDescHigh` (W): Descriptor Area address, bits 32..63. */
export const VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084;
/** Offset of `QueueDriverLow` (W): Driver Area (available ring) address, bits 0..31. Linux: `QUEUE_AVAIL_LOW`. */
export const VIRTIO_MMIO_QUEUE_AVAIL_LOW = 0x090;
/** Offset of `QueueDriverHigh` (W): Driver Area address, bits 32..63. Linux: `QUEUE_AVAIL_HIGH`. */
export const VIRTIO_MMIO_QUEUE_AVAIL_HIGH = 0x094;
/** Offset of `QueueDeviceLow` (W): Device Area (used ring) address, bits 0..31. Linux: `QUEUE_USED_LOW`. */
export const VIRTIO_MMIO_QUEUE_USED_LOW = 0x0a0;
/** Offset of `QueueDeviceHigh` (W): Device Area address, bits 32..63. Linux: `QUEUE_USED_HIGH`. */
export const VIRTIO_MMIO_QUEUE_USED_HIGH = 0x0a4;
/** Offset of `SHMSel` (W): selects a shared memory region. */
export const VIRTIO_MMIO_SHM_SEL = 0x0ac;
/** Offset of `SHMLenLow` (R). */
export const VIRTIO_MMIO_SHM_LEN_LOW = 0x0b0;
/** Offset of `SHMLenHigh` (R). */
export const VIRTIO_MMIO_SHM_LEN_HIGH = 0x0b4;
/** Offset of `SHMBaseLow` (R). */
export const VIRTIO_MMIO_SHM_BASE_LOW = 0x0b8;
/** Offset of `SHMBaseHigh` (R). */
export const VIRTIO_MMIO_SHM_BASE_HIGH = 0x0bc;
/**
 * Offset of `QueueReset` (RW), used when `VIRTIO_F_RING_RESET` is negotiated.
 * (Not in every `linux/virtio_mmio.h`; the offset is §4.2.2's.)
 */
export const VIRTIO_MMIO_QUEUE_RESET = 0x0c0;
/** Offset of `ConfigGeneration` (R). */
export const VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc;
/** Offset where the device-specific configuration space starts. */
export const VIRTIO_MMIO_CONFIG = 0x100;

/** The value of `MagicValue`: the bytes "virt" read as a little-endian u32. */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
/** `Version` of the modern interface this project implements. */
export const VIRTIO_MMIO_VERSION_MODERN = 2;
/** `Version` of the legacy interface (§4.2.4). */
export const VIRTIO_MMIO_VERSION_LEGACY = 1;
/** `InterruptStatus` bit 0: a used buffer notification. */
export const VIRTIO_MMIO_INT_VRING = 1 << 0;
/** `InterruptStatus` bit 1: a configuration change notification. */
export const VIRTIO_MMIO_INT_CONFIG = 1 << 1;
/** The `InterruptStatus` bits §4.2.2 defines. */
export const VIRTIO_MMIO_INT_MASK = VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG;
/** Size of one virtio-mmio window in the device tree example of §4.2.1 (bytes). */
export const VIRTIO_MMIO_WINDOW_SIZE = 0x200;

/** Register direction in the table of §4.2.2: readable, writable, or both. */
export type RegisterDirection = "R" | "W" | "RW";

/** One row of the register table of §4.2.2. */
export interface MmioRegister {
  /** The spec's name, e.g. `"QueueDriverLow"`. */
  readonly name: string;
  /** The Linux constant, e.g. `"VIRTIO_MMIO_QUEUE_AVAIL_LOW"`. */
  readonly constant: string;
  /** Offset from the window base, in bytes. */
  readonly offset: number;
  /** Who may do what. */
  readonly direction: RegisterDirection;
  /** Which interface versions have the register (2: modern, 1: legacy). */
  readonly versions: readonly (1 | 2)[];
  /** What it is for, in one line. */
  readonly description: string;
}

const BOTH = [1, 2] as const;
const MODERN = [2] as const;
const LEGACY = [1] as const;

/**
 * Every control register of the MMIO window, modern (§4.2.2) and legacy
 * (§4.2.4), in offset order. Config space (0x100 on) is described by each
 * device's configuration layout instead.
 */
export const MMIO_REGISTERS: readonly MmioRegister[] = [
  reg("MagicValue", "VIRTIO_MMIO_MAGIC_VALUE", 0x000, "R", BOTH, 'Magic value 0x74726976 ("virt")'),
  reg(
    "Version",
    "VIRTIO_MMIO_VERSION",
    0x004,
    "R",
    BOTH,
    "Device version number: 2 (legacy devices: 1)",
  ),
  reg(
    "DeviceID",
    "VIRTIO_MMIO_DEVICE_ID",
    0x008,
    "R",
    BOTH,
    "Virtio subsystem device ID (0: empty slot)",
  ),
  reg("VendorID", "VIRTIO_MMIO_VENDOR_ID", 0x00c, "R", BOTH, "Virtio subsystem vendor ID"),
  reg(
    "DeviceFeatures",
    "VIRTIO_MMIO_DEVICE_FEATURES",
    0x010,
    "R",
    BOTH,
    "32 device feature bits selected by DeviceFeaturesSel",
  ),
  reg(
    "DeviceFeaturesSel",
    "VIRTIO_MMIO_DEVICE_FEATURES_SEL",
    0x014,
    "W",
    BOTH,
    "Selects which 32 device feature bits to read",
  ),
  reg(
    "DriverFeatures",
    "VIRTIO_MMIO_DRIVER_FEATURES",
    0x020,
    "W",
    BOTH,
    "32 driver feature bits selected by DriverFeaturesSel",
  ),
  reg(
    "DriverFeaturesSel",
    "VIRTIO_MMIO_DRIVER_FEATURES_SEL",
    0x024,
    "W",
    BOTH,
    "Selects which 32 driver feature bits to write",
  ),
  reg(
    "GuestPageSize",
    "VIRTIO_MMIO_GUEST_PAGE_SIZE",
    0x028,
    "W",
    LEGACY,
    "Legacy: guest page size in bytes, for QueuePFN",
  ),
  reg(
    "QueueSel",
    "VIRTIO_MMIO_QUEUE_SEL",
    0x030,
    "W",
    BOTH,
    "Selects the queue the Queue* registers apply to",
  ),
  reg(
    "QueueNumMax",
    "VIRTIO_MMIO_QUEUE_NUM_MAX",
    0x034,
    "R",
    BOTH,
    "Maximum queue size (0: queue not available)",
  ),
  reg(
    "QueueNum",
    "VIRTIO_MMIO_QUEUE_NUM",
    0x038,
    "W",
    BOTH,
    "Queue size the driver will use, in descriptors",
  ),
  reg(
    "QueueAlign",
    "VIRTIO_MMIO_QUEUE_ALIGN",
    0x03c,
    "W",
    LEGACY,
    "Legacy: used ring alignment in bytes",
  ),
  reg(
    "QueuePFN",
    "VIRTIO_MMIO_QUEUE_PFN",
    0x040,
    "RW",
    LEGACY,
    "Legacy: queue page frame number (0: stop using the queue)",
  ),
  reg("QueueReady", "VIRTIO_MMIO_QUEUE_READY", 0x044, "RW", MODERN, "Queue ready bit"),
  reg(
    "QueueNotify",
    "VIRTIO_MMIO_QUEUE_NOTIFY",
    0x050,
    "W",
    BOTH,
    "Queue notifier: write the queue index",
  ),
  reg(
    "InterruptStatus",
    "VIRTIO_MMIO_INTERRUPT_STATUS",
    0x060,
    "R",
    BOTH,
    "Why the interrupt was asserted: bit 0 used buffer, bit 1 config change",
  ),
  reg(
    "InterruptACK",
    "VIRTIO_MMIO_INTERRUPT_ACK",
    0x064,
    "W",
    BOTH,
    "Acknowledges the interrupt events handled",
  ),
  reg(
    "Status",
    "VIRTIO_MMIO_STATUS",
    0x070,
    "RW",
    BOTH,
    "Device status (§2.1); writing 0 resets the device",
  ),
  reg(
    "QueueDescLow",
    "VIRTIO_MMIO_QUEUE_DESC_LOW",
    0x080,
    "W",
    MODERN,
    "Descriptor Area address, bits 0..31",
  ),
  reg(
    "QueueDescHigh",
    "VIRTIO_MMIO_QUEUE_DESC_HIGH",
    0x084,
    "W",
    MODERN,
    "Descriptor Area address, bits 32..63",
  ),
  reg(
    "QueueDriverLow",
    "VIRTIO_MMIO_QUEUE_AVAIL_LOW",
    0x090,
    "W",
    MODERN,
    "Driver Area (available ring) address, bits 0..31",
  ),
  reg(
    "QueueDriverHigh",
    "VIRTIO_MMIO_QUEUE_AVAIL_HIGH",
    0x094,
    "W",
    MODERN,
    "Driver Area (available ring) address, bits 32..63",
  ),
  reg(
    "QueueDeviceLow",
    "VIRTIO_MMIO_QUEUE_USED_LOW",
    0x0a0,
    "W",
    MODERN,
    "Device Area (used ring) address, bits 0..31",
  ),
  reg(
    "QueueDeviceHigh",
    "VIRTIO_MMIO_QUEUE_USED_HIGH",
    0x0a4,
    "W",
    MODERN,
    "Device Area (used ring) address, bits 32..63",
  ),
  reg("SHMSel", "VIRTIO_MMIO_SHM_SEL", 0x0ac, "W", MODERN, "Selects a shared memory region"),
  reg(
    "SHMLenLow",
    "VIRTIO_MMIO_SHM_LEN_LOW",
    0x0b0,
    "R",
    MODERN,
    "Shared memory region length, bits 0..31 (all ones: no region)",
  ),
  reg(
    "SHMLenHigh",
    "VIRTIO_MMIO_SHM_LEN_HIGH",
    0x0b4,
    "R",
    MODERN,
    "Shared memory region length, bits 32..63",
  ),
  reg(
    "SHMBaseLow",
    "VIRTIO_MMIO_SHM_BASE_LOW",
    0x0b8,
    "R",
    MODERN,
    "Shared memory region address, bits 0..31 (all ones: no region)",
  ),
  reg(
    "SHMBaseHigh",
    "VIRTIO_MMIO_SHM_BASE_HIGH",
    0x0bc,
    "R",
    MODERN,
    "Shared memory region address, bits 32..63",
  ),
  reg(
    "QueueReset",
    "VIRTIO_MMIO_QUEUE_RESET",
    0x0c0,
    "RW",
    MODERN,
    "Queue reset bit (with VIRTIO_F_RING_RESET)",
  ),
  reg(
    "ConfigGeneration",
    "VIRTIO_MMIO_CONFIG_GENERATION",
    0x0fc,
    "R",
    MODERN,
    "Changes whenever configuration space may have changed",
  ),
];

function reg(
  name: string,
  constant: string,
  offset: number,
  direction: RegisterDirection,
  versions: readonly (1 | 2)[],
  description: string,
): MmioRegister {
  return Object.freeze({ name, constant, offset, direction, versions, description });
}

/**
 * Per interface version, the register at each 4-byte aligned offset below
 * `VIRTIO_MMIO_CONFIG`, by `offset / 4` (the first in table order when two
 * share an offset), or `undefined`: every driver access is looked up here.
 */
const BY_WORD: Readonly<Record<1 | 2, readonly (MmioRegister | undefined)[]>> = {
  1: registersByWord(1),
  2: registersByWord(2),
};

function registersByWord(version: 1 | 2): (MmioRegister | undefined)[] {
  const table = new Array<MmioRegister | undefined>(VIRTIO_MMIO_CONFIG / 4).fill(undefined);
  for (const r of MMIO_REGISTERS) {
    if (r.versions.includes(version) && table[r.offset / 4] === undefined) table[r.offset / 4] = r;
  }
  return table;
}

/** `VIRTIO_MMIO_CONFIG` as a module-local constant, which V8 folds (an exported one it loads). */
const CONFIG_OFFSET = VIRTIO_MMIO_CONFIG;

/**
 * The verdicts of allowed accesses, made once (they are frozen): a check
 * that passes allocates nothing.
 */
const ALLOWED_CONFIG: RegisterAccessCheck = Object.freeze({ ok: true, register: null });
const ALLOWED: Readonly<Record<1 | 2, readonly (RegisterAccessCheck | undefined)[]>> = {
  1: BY_WORD[1].map((register) => register && Object.freeze({ ok: true, register })),
  2: BY_WORD[2].map((register) => register && Object.freeze({ ok: true, register })),
};

/**
 * The register at an offset, for an interface version.
 *
 * @param offset Offset from the window base, in bytes.
 * @param version 2 (modern, default) or 1 (legacy).
 * @returns The register, or `undefined` if the offset names none for that version.
 */
export function findRegister(offset: number, version: 1 | 2 = 2): MmioRegister | undefined {
  const table = BY_WORD[version];
  if (table === undefined || !((offset >>> 0) === offset && (offset & 3) === 0)) return undefined;
  return table[offset / 4];
}

/**
 * The register with a spec name, such as `"QueueNotify"`.
 *
 * @param name The spec's register name.
 * @returns The register, or `undefined`.
 */
export function registerByName(name: string): MmioRegister | undefined {
  return MMIO_REGISTERS.find((r) => r.name === name);
}

/** Whether a driver access reads or writes. */
export type AccessKind = "read" | "write";

/** The verdict of {@linkcode checkRegisterAccess}. */
export type RegisterAccessCheck =
  | {
    /** The access is allowed. */
    readonly ok: true;
    /** The control register accessed, or `null` for configuration space (0x100 and up). */
    readonly register: MmioRegister | null;
  }
  | {
    /** The access breaks a rule of §4.2.2.2. */
    readonly ok: false;
    /** The requirement broken: `"4.2.2.2/1"` (location or direction) or `"4.2.2.2/2"` (width or alignment). */
    readonly requirement: RequirementId;
    /** What is wrong, in one sentence naming the register and offset. */
    readonly reason: string;
    /** The register at that offset, if there is one. */
    readonly register: MmioRegister | null;
  };

/**
 * Decides whether the driver may make an access to a control register
 * (§4.2.2.2): the device calls this before acting on any access below
 * `VIRTIO_MMIO_CONFIG` and, on a refusal, reads as 0 or ignores the write
 * (what QEMU does) after logging the violation.
 *
 * Rules, checked in this order:
 * 1. control registers take only 32-bit wide, 4-byte aligned accesses (4.2.2.2/2);
 * 2. the offset must name a register of the table for this version (4.2.2.2/1);
 * 3. no writes to read-only (R) registers and no reads of write-only (W) ones (4.2.2.2/1).
 *
 * Accesses at `VIRTIO_MMIO_CONFIG` (0x100) and above are configuration space
 * and always pass here; their width rules depend on the device's field layout.
 *
 * @param offset Offset from the window base, in bytes.
 * @param width Access width in bytes (1, 2 or 4).
 * @param kind `"read"` or `"write"`.
 * @param version Interface version, 2 (default) or 1 (legacy).
 * @returns `{ ok: true, register }` or `{ ok: false, requirement, reason, register }`.
 * @example
 * ```ts
 * import { checkRegisterAccess, VIRTIO_MMIO_QUEUE_NOTIFY } from "./mmio_registers.ts";
 * checkRegisterAccess(VIRTIO_MMIO_QUEUE_NOTIFY, 4, "read");
 * // { ok: false, requirement: "4.2.2.2/1", reason: "QueueNotify (0x050) is write-only: ...", ... }
 * ```
 */
export function checkRegisterAccess(
  offset: number,
  width: number,
  kind: AccessKind,
  version: 1 | 2 = 2,
): RegisterAccessCheck {
  if (offset >= CONFIG_OFFSET) return ALLOWED_CONFIG;
  // The common case, an allowed 32-bit access to a register, in a few tests;
  // anything else is decided below, where the messages are built.
  if (width === 4 && (offset >>> 0) === offset && (offset & 3) === 0) {
    const register = BY_WORD[version]?.[offset / 4];
    if (
      register !== undefined && (kind !== "write" || register.direction !== "R") &&
      (kind !== "read" || register.direction !== "W")
    ) {
      return ALLOWED[version][offset / 4]!;
    }
  }
  return refuseRegisterAccess(offset, width, kind, version);
}

/** {@linkcode checkRegisterAccess} for every access but an allowed 32-bit one to a register. */
function refuseRegisterAccess(
  offset: number,
  width: number,
  kind: AccessKind,
  version: 1 | 2,
): RegisterAccessCheck {
  const register = findRegister(offset - (offset % 4), version) ?? null;
  const where = register ? `${register.name} (${hex3(register.offset)})` : `offset ${hex3(offset)}`;
  if (width !== 4 || offset % 4 !== 0) {
    return {
      ok: false,
      requirement: "4.2.2.2/2",
      reason:
        `${width * 8}-bit ${kind} at ${hex3(offset)}${register ? ` (${register.name})` : ""}: ` +
        "control registers take only 32-bit aligned accesses",
      register,
    };
  }
  if (!register) {
    return {
      ok: false,
      requirement: "4.2.2.2/1",
      reason: `${
        capitalize(kind)
      } of ${where}, which is not a register of the version ${version} layout`,
      register: null,
    };
  }
  if (kind === "write" && register.direction === "R") {
    return {
      ok: false,
      requirement: "4.2.2.2/1",
      reason: `Write to ${where}, which is read-only`,
      register,
    };
  }
  if (kind === "read" && register.direction === "W") {
    return {
      ok: false,
      requirement: "4.2.2.2/1",
      reason: `Read of ${where}, which is write-only`,
      register,
    };
  }
  return { ok: true, register };
}

/** What identifies a device in its MMIO window (§4.2.2). */
export interface DeviceIdentity {
  /** Virtio device ID (§5), 0 for an empty slot. */
  readonly deviceId: number;
  /** Subsystem vendor ID. */
  readonly vendorId: number;
  /** Interface version to report: 2 (default) or 1 (legacy). */
  readonly version?: 1 | 2;
}

/**
 * The value of an identification register (§4.2.2, §4.2.2.1/1, §4.2.2.1/2):
 * `MagicValue` is always 0x74726976, `Version` is 2 (or 1 for a legacy
 * device), `DeviceID` and `VendorID` come from the device.
 *
 * @param offset Offset of the register: 0x000, 0x004, 0x008 or 0x00c.
 * @param identity The device's IDs.
 * @returns The 32-bit value, or `undefined` if `offset` is not an identification register.
 * @example
 * ```ts
 * import { readIdentification, VIRTIO_MMIO_MAGIC_VALUE } from "./mmio_registers.ts";
 * readIdentification(VIRTIO_MMIO_MAGIC_VALUE, { deviceId: 2, vendorId: 0x554d4551 }); // 0x74726976
 * ```
 */
export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  switch (offset) {
    case VIRTIO_MMIO_MAGIC_VALUE:
      return VIRTIO_MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION:
      return identity.version ?? VIRTIO_MMIO_VERSION_MODERN;
    case VIRTIO_MMIO_DEVICE_ID:
      return identity.deviceId >>> 0;
    case VIRTIO_MMIO_VENDOR_ID:
      return identity.vendorId >>> 0;
    default:
      return undefined;
  }
}

/**
 * Formats a window offset as `0x` and three hex digits, as the spec's table does.
 *
 * @param offset Offset in bytes.
 */
export function hex3(offset: number): string {
  return `0x${offset.toString(16).padStart(3, "0")}`;
}

/**
 * Formats a register value as `0x` and eight hex digits (a u32 as the driver
 * reads it).
 *
 * @param value The value; only its low 32 bits count.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hex8 } from "./mmio_registers.ts";
 * assert.equal(hex8(0x74726976), "0x74726976");
 * assert.equal(hex8(-1), "0xffffffff");
 * ```
 */
export function hex8(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
