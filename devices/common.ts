/**
 * Pieces shared by the reference device models: the vendor ID they report
 * and a little-endian configuration space buffer (virtio v1.2 §2.5: device
 * configuration fields are little-endian for modern devices).
 *
 * @module
 */

import type { AccessWidth } from "../virtio/device.ts";

/**
 * `VendorID` of the reference devices (§4.2.2): the ASCII bytes "VLAB" read
 * as a little-endian u32. Drivers bind by device ID, never by vendor.
 */
export const VIRTIO_LAB_VENDOR_ID = 0x4241_4c56;

/**
 * A device's configuration space: a fixed-size little-endian byte buffer with
 * typed setters for the device and width-checked reads for the transport.
 *
 * @example
 * ```ts
 * import { ConfigSpace } from "./common.ts";
 * const config = new ConfigSpace(12);
 * config.setU16(0, 80);
 * config.read(0, 2); // 80
 * ```
 */
export class ConfigSpace {
  /** Size in bytes. */
  readonly size: number;
  /** The raw bytes (little-endian fields). */
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  /**
   * Creates a zero-filled configuration space.
   *
   * @param size Size in bytes.
   * @throws {RangeError} If `size` is not a non-negative integer.
   */
  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`Configuration space size ${size} is not a non-negative integer`);
    }
    this.size = size;
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  /**
   * Reads `width` bytes at `offset` as an unsigned little-endian value.
   *
   * @param offset Byte offset.
   * @param width 1, 2 or 4.
   * @returns The value, or 0 when the access does not fit (the transport
   *   already reported such an access).
   */
  read(offset: number, width: AccessWidth): number {
    if (!Number.isInteger(offset) || offset < 0 || offset + width > this.size) return 0;
    switch (width) {
      case 1:
        return this.#view.getUint8(offset);
      case 2:
        return this.#view.getUint16(offset, true);
      default:
        return this.#view.getUint32(offset, true);
    }
  }

  /** Stores a u8 at `offset`. */
  setU8(offset: number, value: number): void {
    this.#view.setUint8(offset, value);
  }

  /** Stores a little-endian u16 at `offset`. */
  setU16(offset: number, value: number): void {
    this.#view.setUint16(offset, value, true);
  }

  /** Stores a little-endian u32 at `offset`. */
  setU32(offset: number, value: number): void {
    this.#view.setUint32(offset, value >>> 0, true);
  }

  /** Stores a little-endian u64 at `offset`. */
  setU64(offset: number, value: bigint): void {
    this.#view.setBigUint64(offset, BigInt.asUintN(64, value), true);
  }

  /** Reads a u8 at `offset`. */
  getU8(offset: number): number {
    return this.#view.getUint8(offset);
  }

  /** Reads a little-endian u16 at `offset`. */
  getU16(offset: number): number {
    return this.#view.getUint16(offset, true);
  }

  /** Reads a little-endian u32 at `offset`. */
  getU32(offset: number): number {
    return this.#view.getUint32(offset, true);
  }

  /** Reads a little-endian u64 at `offset`. */
  getU64(offset: number): bigint {
    return this.#view.getBigUint64(offset, true);
  }
}

/** The error a backend throws when the device aborted the operation (a device or queue reset). */
export function abortError(what: string): DOMException {
  return new DOMException(`${what} was aborted by a device or queue reset`, "AbortError");
}

/**
 * A parts table: the reference parts with the given ones put in their place.
 * Entries of `parts` that are `undefined` keep the reference part, so
 * `{ parseBlockRequest: undefined }` changes nothing.
 *
 * @param reference The reference table.
 * @param parts Replacements for some of its entries.
 * @returns A frozen table with every entry set.
 * @throws {TypeError} If a replacement is not a function, or names no part of the table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeParts } from "./common.ts";
 * const reference = Object.freeze({ double: (n: number) => 2 * n, square: (n: number) => n * n });
 * const mine = mergeParts(reference, { square: (n: number) => n ** 2 });
 * assert.equal(mine.double(3), 6);
 * assert.equal(mine.square(3), 9);
 * ```
 */
export function mergeParts<P extends object>(reference: P, parts: Partial<P> = {}): P {
  const merged: Record<string, unknown> = { ...(reference as Record<string, unknown>) };
  for (const [name, part] of Object.entries(parts)) {
    if (part === undefined) continue;
    if (!(name in reference)) {
      throw new TypeError(`"${name}" is not one of the parts ${Object.keys(reference).join(", ")}`);
    }
    if (typeof part !== "function") {
      throw new TypeError(`Part "${name}" is a ${typeof part}, not a function`);
    }
    merged[name] = part;
  }
  return Object.freeze(merged) as P;
}

/**
 * The default error hook of a device model: one line on stderr, for an error
 * thrown where no caller can take it (a backend reaction, a timer).
 *
 * @param error What was thrown.
 * @param where The device and the step, e.g. `"virtio-blk request completion"`.
 */
export function printDeviceError(error: unknown, where: string): void {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.error(`${where}: ${what}`.replace(/\s*\n\s*/g, " "));
}
