/**
 * Guest memory for fuzzing: a {@linkcode GuestMemory} that keeps a shadow
 * copy of what the driver side wrote, records where the other side stored
 * (or took a writable view), and stops a side that loops with a read budget.
 *
 * Every access is the side under test's unless it runs inside
 * {@linkcode FuzzMemory.quietly} (the hostile driver's own stores, which also
 * update the shadow). So a device's late store from a promise callback is
 * seen like any other. After a step the engine compares each recorded range
 * with the shadow: a changed byte outside the used ring and the device-
 * writable buffers in flight is a store the device had no right to make (into
 * the descriptor table, the available ring, a device-readable buffer, or
 * another request's memory).
 *
 * What it cannot see: bytes written later through a `bytes()` view taken
 * earlier. The engine covers those with {@linkcode FuzzMemory.changedRanges}
 * over all of RAM at the end of each episode.
 *
 * @module
 */

import { GuestMemory, hexAddress } from "../memory/guest_memory.ts";

/** Thrown by a load over the step's read budget: the code under test is looping. */
export class RunawayReadsError extends Error {
  /** Loads allowed in one step. */
  readonly budget: number;
  /** Guest-physical address of the load that went over. */
  readonly address: number;

  /**
   * @param budget Loads allowed in one step.
   * @param address Where the load that went over was.
   */
  constructor(budget: number, address: number) {
    super(
      `More than ${budget.toLocaleString("en")} guest memory loads in one step (the last at ` +
        `${hexAddress(address)}): a loop that never ends`,
    );
    this.name = "RunawayReadsError";
    this.budget = budget;
    this.address = address;
  }
}

/**
 * Guest memory with a shadow of the driver's writes, a record of the other
 * side's stores and views, and a per-step read budget (see the module
 * documentation).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FuzzMemory } from "./memory.ts";
 *
 * const memory = new FuzzMemory(0x1000, { base: 0x4000_0000 });
 * memory.quietly(() => memory.writeU32(0x4000_0010, 0xdead_beef)); // the driver's own store
 * memory.writeU8(0x4000_0011, 0); // the device's store, recorded
 * assert.deepEqual(memory.changedIn(0x4000_0000, 0x1000), [[0x4000_0011, 1]]);
 * ```
 */
export class FuzzMemory extends GuestMemory {
  /** The bytes as the driver side last left them (same offsets as RAM). */
  readonly shadow: Uint8Array;
  /** Loads allowed per step (reset by {@linkcode FuzzMemory.resetBudget}). */
  loadBudget = Infinity;
  #loads = 0;
  #totalLoads = 0;
  #driver = 0;
  /** Recorded stores and views of the side under test: address, length pairs. */
  #touched: number[] = [];

  /**
   * @param size RAM size in bytes.
   * @param options Where RAM starts.
   */
  constructor(size: number, options: { readonly base?: number } = {}) {
    super(size, options);
    this.shadow = new Uint8Array(size);
  }

  /** Loads the side under test made in this step. */
  get loads(): number {
    return this.#loads;
  }

  /** Loads the side under test made since the memory was built. */
  get totalLoads(): number {
    return this.#totalLoads + this.#loads;
  }

  /** Starts a new step: loads count from 0 and the record of stores is emptied. */
  resetBudget(): void {
    this.#totalLoads += this.#loads;
    this.#loads = 0;
    this.#touched.length = 0;
  }

  /**
   * Runs the hostile driver's own accesses: not counted, not recorded, and
   * every store copied into the shadow.
   *
   * @param fn The accesses.
   * @returns What `fn` returns.
   */
  quietly<R>(fn: () => R): R {
    this.#driver++;
    try {
      return fn();
    } finally {
      this.#driver--;
    }
  }

  /** Recorded stores and views since the step began, as `[address, length]` pairs. */
  touched(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.#touched.length; i += 2) {
      out.push([this.#touched[i], this.#touched[i + 1]]);
    }
    return out;
  }

  /**
   * The runs of bytes in a range that differ from the shadow.
   *
   * @param address First address.
   * @param length Bytes to compare (clipped to RAM).
   * @returns `[address, length]` runs, in address order.
   */
  changedIn(address: number, length: number): [number, number][] {
    const from = Math.max(0, address - this.base);
    const to = Math.min(this.size, address - this.base + length);
    const bytes = super.bytes(this.base, this.size);
    const out: [number, number][] = [];
    for (let i = from; i < to; i++) {
      if (bytes[i] === this.shadow[i]) continue;
      let j = i + 1;
      while (j < to && bytes[j] !== this.shadow[j]) j++;
      out.push([this.base + i, j - i]);
      i = j;
    }
    return out;
  }

  /** Every run of bytes in RAM that differs from the shadow. */
  changedRanges(): [number, number][] {
    return this.changedIn(this.base, this.size);
  }

  /**
   * Makes the shadow agree with RAM over a range: the driver has taken what
   * the device wrote there.
   *
   * @param address First address.
   * @param length Bytes (clipped to RAM).
   */
  accept(address: number, length: number): void {
    const from = Math.max(0, address - this.base);
    const to = Math.min(this.size, address - this.base + length);
    if (to > from) this.shadow.set(super.bytes(this.base + from, to - from), from);
  }

  #load(address: number): void {
    if (this.#driver > 0) return;
    if (++this.#loads > this.loadBudget) throw new RunawayReadsError(this.loadBudget, address);
  }

  #stored(address: number, length: number): void {
    if (this.#driver > 0) this.accept(address, length);
    else this.#touched.push(address, length);
  }

  override readU8(address: number): number {
    this.#load(address);
    return super.readU8(address);
  }
  override readU16(address: number): number {
    this.#load(address);
    return super.readU16(address);
  }
  override readU32(address: number): number {
    this.#load(address);
    return super.readU32(address);
  }
  override readU64(address: number): bigint {
    this.#load(address);
    return super.readU64(address);
  }
  override readU64Number(address: number): number {
    this.#load(address);
    return super.readU64Number(address);
  }
  override writeU8(address: number, value: number): void {
    super.writeU8(address, value);
    this.#stored(address, 1);
  }
  override writeU16(address: number, value: number): void {
    super.writeU16(address, value);
    this.#stored(address, 2);
  }
  override writeU32(address: number, value: number): void {
    super.writeU32(address, value);
    this.#stored(address, 4);
  }
  override writeU64(address: number, value: bigint | number): void {
    super.writeU64(address, value);
    this.#stored(address, 8);
  }
  override bytes(address: number, length: number): Uint8Array {
    this.#load(address);
    const view = super.bytes(address, length);
    if (this.#driver === 0) this.#touched.push(address, length);
    return view;
  }
  override write(address: number, src: Uint8Array): void {
    super.write(address, src);
    this.#stored(address, src.length);
  }
  override fill(address: number, length: number, value = 0): void {
    super.fill(address, length, value);
    this.#stored(address, length);
  }
}
