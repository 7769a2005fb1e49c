/**
 * Access-width reassembly between an emulator's memory bus and the lab's
 * MMIO bus.
 *
 * v86 hands its MMIO handlers 8-bit and 32-bit loads only: a 16-bit load
 * (`readw`, `movzwl`) arrives as two 8-bit loads, of the low byte and then of
 * the high byte. Stores keep their width (8, 16 or 32 bits). The register
 * file must see the width the guest used, or the configuration-space width
 * rules (virtio v1.2 §4.2.2.2: a u16 field takes 16-bit accesses) misfire on
 * every `virtio_cread16`. The emulator cannot say which instruction made a
 * load, so the pairing follows the layout: an 8-bit load at an even address
 * where a 16-bit field begins ({@linkcode FieldWidthAt}) is taken as the low
 * half of a 16-bit load, the register file is read once at 16 bits, and the
 * high byte is kept for the 8-bit load of the next address, which follows at
 * once. Every other 8-bit load is an 8-bit load.
 *
 * The one thing this cannot tell apart is a guest that really loads one byte
 * of a 16-bit field (a rule a driver breaks): it is served as a 16-bit load
 * and not reported. Linux's drivers load u16 fields with `readw`.
 *
 * @module
 */

import type { AccessWidth } from "../virtio/device.ts";

/** Where an access goes once its width is known (an `MmioBus`'s `read`/`write`). */
export interface WidthTarget {
  /** A load of `width` bytes at a guest-physical address. */
  read(address: number, width: AccessWidth): number;
  /** A store of `width` bytes at a guest-physical address. */
  write(address: number, width: AccessWidth, value: number): void;
}

/**
 * The natural width of the register or field at a guest-physical address:
 * 2 where a 16-bit field begins, 1 or 4 elsewhere.
 */
export type FieldWidthAt = (address: number) => AccessWidth;

/**
 * Turns the emulator's 8-bit and 32-bit loads back into the 8, 16 and 32-bit
 * loads the guest made, and passes stores through at their width.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WidthReassembler } from "./access_width.ts";
 * const seen: string[] = [];
 * const target = {
 *   read: (address: number, width: 1 | 2 | 4) => (seen.push(`${width}@${address}`), 0xbeef),
 *   write: () => {},
 * };
 * const bus = new WidthReassembler(target, (address) => (address === 0x108 ? 2 : 1));
 * assert.equal(bus.read8(0x108) | (bus.read8(0x109) << 8), 0xbeef);
 * assert.deepEqual(seen, ["2@264"]); // one 16-bit load
 * ```
 */
export class WidthReassembler {
  readonly #target: WidthTarget;
  readonly #widthAt: FieldWidthAt;
  /** Address of the kept high byte, or -1. */
  #pendingAddress = -1;
  #pendingByte = 0;
  /** 16-bit loads reassembled so far. */
  paired = 0;

  /**
   * @param target Where accesses go at their real width.
   * @param widthAt The natural width at an address.
   */
  constructor(target: WidthTarget, widthAt: FieldWidthAt) {
    this.#target = target;
    this.#widthAt = widthAt;
  }

  /** An 8-bit load from the emulator. */
  read8(address: number): number {
    if (address === this.#pendingAddress) {
      this.#pendingAddress = -1;
      return this.#pendingByte;
    }
    this.#pendingAddress = -1;
    if ((address & 1) === 0 && this.#widthAt(address) === 2) {
      const value = this.#target.read(address, 2);
      this.#pendingAddress = address + 1;
      this.#pendingByte = (value >>> 8) & 0xff;
      this.paired++;
      return value & 0xff;
    }
    return this.#target.read(address, 1) & 0xff;
  }

  /** A 32-bit load from the emulator. */
  read32(address: number): number {
    this.#pendingAddress = -1;
    return this.#target.read(address, 4) >>> 0;
  }

  /** An 8-bit store from the emulator. */
  write8(address: number, value: number): void {
    this.#pendingAddress = -1;
    this.#target.write(address, 1, value & 0xff);
  }

  /** A 16-bit store from the emulator. */
  write16(address: number, value: number): void {
    this.#pendingAddress = -1;
    this.#target.write(address, 2, value & 0xffff);
  }

  /** A 32-bit store from the emulator. */
  write32(address: number, value: number): void {
    this.#pendingAddress = -1;
    this.#target.write(address, 4, value >>> 0);
  }
}
