/**
 * The driver side of device configuration space on virtio-mmio (virtio v1.2
 * §2.5.1, §4.2.2.2, §4.2.3): field reads and writes at the field's width,
 * consistent multi-access reads under `ConfigGeneration`, and 64-bit fields
 * read as two 32-bit halves (Linux: `vm_get`, `vm_generation`,
 * `__virtio_cread_many`, `virtio_cread64`).
 *
 * @module
 */

import type { AccessWidth } from "../virtio/device.ts";
import { VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_CONFIG_GENERATION } from "./mmio_registers.ts";
import type { RegisterWindow } from "./types.ts";

/** `ConfigGeneration` never held still across a read: the configuration kept changing. */
export class ConfigGenerationError extends Error {
  /** Attempts made. */
  readonly attempts: number;
  /** `ConfigGeneration` before the last attempt. */
  readonly before: number;
  /** `ConfigGeneration` after the last attempt. */
  readonly after: number;

  /**
   * Records the last generations seen.
   *
   * @param attempts Attempts made.
   * @param before Generation read before the last attempt.
   * @param after Generation read after it.
   */
  constructor(attempts: number, before: number, after: number) {
    super(
      `ConfigGeneration kept changing over ${attempts} attempts (last ${before} then ${after}): ` +
        "the configuration could not be read consistently",
    );
    this.name = "ConfigGenerationError";
    this.attempts = attempts;
    this.before = before;
    this.after = after;
  }
}

/**
 * Reads a configuration field of 1, 2 or 4 bytes with one access of that
 * width (4.2.2.2/3), at `offset` from the start of configuration space.
 *
 * @param window The window's registers.
 * @param offset Offset inside configuration space, in bytes.
 * @param width The field's width in bytes.
 * @returns The unsigned value.
 */
export function readConfigField(
  window: RegisterWindow,
  offset: number,
  width: AccessWidth,
): number {
  const at = VIRTIO_MMIO_CONFIG + offset;
  return width === 4 ? window.read32(at) >>> 0 : width === 2 ? window.read16(at) : window.read8(at);
}

/**
 * Writes a configuration field of 1, 2 or 4 bytes with one access of that width.
 *
 * @param window The window's registers.
 * @param offset Offset inside configuration space, in bytes.
 * @param width The field's width in bytes.
 * @param value The unsigned value.
 */
export function writeConfigField(
  window: RegisterWindow,
  offset: number,
  width: AccessWidth,
  value: number,
): void {
  const at = VIRTIO_MMIO_CONFIG + offset;
  if (width === 4) window.write32(at, value);
  else if (width === 2) window.write16(at, value);
  else window.write8(at, value);
}

/**
 * Reads configuration fields consistently (§2.5.1, 2.5.1/1): reads
 * `ConfigGeneration`, runs `read`, reads `ConfigGeneration` again, and repeats
 * while the two differ, since the device may change the configuration between
 * any two accesses. Gives up after `maxTries` attempts, so a device whose
 * generation never settles cannot hang the driver.
 *
 * @typeParam R What `read` returns.
 * @param window The window's registers.
 * @param read Reads the fields (may run several times; must not write).
 * @param maxTries Attempts before giving up (default 100).
 * @returns What `read` returned on the attempt the generation held still.
 * @throws {ConfigGenerationError} If the generation changed on every attempt.
 * @throws {RangeError} If `maxTries` is not at least 1.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readConfigConsistent } from "./driver_config.ts";
 * import type { RegisterWindow } from "./types.ts";
 * let generation = 0;
 * const window = { read32: () => generation } as unknown as RegisterWindow;
 * let attempts = 0;
 * const value = readConfigConsistent(window, () => {
 *   attempts++;
 *   if (attempts === 1) generation++; // the device changes the config mid-read once
 *   return attempts;
 * });
 * assert.equal(value, 2);
 * ```
 */
export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  if (!(maxTries >= 1)) {
    throw new RangeError(`maxTries must be at least 1, not ${maxTries}`);
  }
  let before = 0;
  let after = 0;
  for (let attempt = 0; attempt < maxTries; attempt++) {
    before = window.read32(VIRTIO_MMIO_CONFIG_GENERATION) >>> 0;
    const result = read();
    after = window.read32(VIRTIO_MMIO_CONFIG_GENERATION) >>> 0;
    if (before === after) return result;
  }
  throw new ConfigGenerationError(maxTries, before, after);
}

/** The consistent-read step {@linkcode readConfig64} runs its two accesses under. */
export type ConsistentConfigReader = <R>(window: RegisterWindow, read: () => R) => R;

/**
 * Reads a 64-bit configuration field (a virtio-blk `capacity`) as two
 * aligned 32-bit accesses, low word first (4.2.2.2/3), under the generation
 * loop so that a change between the halves cannot produce a torn value
 * (2.5.1/1): the low word of the old value with the high word of the new.
 *
 * @param window The window's registers.
 * @param offset Offset of the field inside configuration space, in bytes (8-byte field, 4-byte aligned).
 * @param consistent The consistent-read step ({@linkcode readConfigConsistent}).
 * @returns The field's value.
 * @throws {ConfigGenerationError} If `consistent` gives up.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readConfig64, readConfigConsistent } from "./driver_config.ts";
 * import type { RegisterWindow } from "./types.ts";
 * // A virtio-blk configuration space whose capacity (offset 0) is 2^32 + 8 sectors.
 * const registers: Record<number, number> = { 0x0fc: 1, 0x100: 8, 0x104: 1 };
 * const window = { read32: (offset: number) => registers[offset] } as RegisterWindow;
 * assert.equal(readConfig64(window, 0, readConfigConsistent), 0x1_0000_0008n);
 * ```
 */
export function readConfig64(
  window: RegisterWindow,
  offset: number,
  consistent: ConsistentConfigReader,
): bigint {
  return consistent(window, () => {
    const low = window.read32(VIRTIO_MMIO_CONFIG + offset) >>> 0;
    const high = window.read32(VIRTIO_MMIO_CONFIG + offset + 4) >>> 0;
    return (BigInt(high) << 32n) | BigInt(low);
  });
}
