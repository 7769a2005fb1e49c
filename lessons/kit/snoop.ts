/**
 * Guest memory that watches every access made through its accessors, so a
 * grader can check the *order* of a side's loads and stores, not only their
 * end result: the available ring slot stored before the available `idx`
 * (2.7.13.3.1/1), the used element before the used `idx` (2.7.8.2/1), the
 * used ring's `flags` or `avail_event` read only after the `idx` store
 * (2.7.13.4.1/1), no store into the descriptor table by the device
 * (2.7.5.1/2).
 *
 * {@linkcode SnoopingMemory} is a {@linkcode GuestMemory} (a subclass: every
 * ring part takes it where it takes RAM) that
 *
 * - runs **store hooks** after every store, with the address, the width and
 *   the value stored, and **load hooks** after every load;
 * - counts loads, in total and per address;
 * - records, on demand, every access in order ({@linkcode SnoopingMemory.record});
 * - detects stores into a range, such as the descriptor table or the
 *   available ring ({@linkcode SnoopingMemory.watchStores}).
 *
 * What it sees: every call of `readU8`/`readU16`/`readU32`/`readU64`/
 * `readU64Number` (a load of 1, 2, 4 or 8 bytes) and of `writeU8`/
 * `writeU16`/`writeU32`/`writeU64` (a store), which is how every ring field
 * and descriptor is read and written (the library's convention); `read`,
 * `write` and `fill` as one bulk load or store of their length (value
 * `null`). What it cannot see: bytes copied through a view that `bytes()`
 * handed out. Taking the view is recorded (kind `"view"`, a possible store of
 * its whole range), but what is later written through it is not: data
 * buffers are copied that way (`readChain`, `writeChain`), ring fields never.
 *
 * Accesses a hook makes, and those inside {@linkcode SnoopingMemory.quietly}
 * (the grader's own setup and inspection), are neither hooked nor counted.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { GuestMemory, hexAddress, type WrapOptions } from "../../memory/guest_memory.ts";

/** What an access did: read a field, write one, or take a view through `bytes()`. */
export type AccessKind = "load" | "store" | "view";

/** One access made through a {@linkcode SnoopingMemory}'s accessors. */
export interface MemoryAccess {
  /** Position among the accesses the memory observed, from 1. */
  readonly seq: number;
  /** Load, store, or a view taken through `bytes()`. */
  readonly kind: AccessKind;
  /** Guest-physical address of the first byte. */
  readonly address: number;
  /** Bytes accessed: 1, 2, 4 or 8 for a field; the length for a bulk copy or a view. */
  readonly width: number;
  /**
   * The value loaded or stored, as the memory holds it (a `bigint` for
   * `readU64` and `writeU64` of a `bigint`); `null` for a bulk copy or a view.
   */
  readonly value: number | bigint | null;
  /** The accessor called: `"readU16"`, `"writeU32"`, `"fill"`, `"bytes"`... */
  readonly method: string;
}

/**
 * Called after an observed access, with that access. What it throws reaches the caller of the
 * accessor.
 */
export type AccessHook = (access: MemoryAccess) => void;

/** A range of guest-physical addresses: `bytes` bytes from `start`. */
export interface AddressRange {
  /** First address. */
  readonly start: number;
  /** Length in bytes. */
  readonly bytes: number;
  /** What lives there, for messages: `"descriptor table"`. */
  readonly name?: string;
}

/** Stores (and views) into one range, as {@linkcode SnoopingMemory.watchStores} collects them. */
export interface StoreWatch {
  /** The range watched. */
  readonly range: AddressRange;
  /** Every store or view that touched the range, in order. */
  readonly stores: readonly MemoryAccess[];
  /** Stops watching (the list keeps what it has). */
  stop(): void;
}

/**
 * Whether an access touches any byte of a range.
 *
 * @param access The access.
 * @param range The range.
 */
export function touches(access: MemoryAccess, range: AddressRange): boolean {
  return access.address < range.start + range.bytes && access.address + access.width > range.start;
}

/**
 * Guest memory that observes every access made through its accessors (see
 * the module documentation for what it sees and what it cannot).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnoopingMemory } from "./snoop.ts";
 *
 * const memory = new SnoopingMemory(0x1000, { base: 0x4000_0000 });
 * const seen: string[] = [];
 * memory.onStore((s) => void seen.push(`${s.width}@${s.address.toString(16)}=${s.value}`));
 * memory.writeU16(0x4000_0002, 7);
 * assert.deepEqual(seen, ["2@40000002=7"]);
 * assert.equal(memory.readU16(0x4000_0002), 7);
 * assert.equal(memory.loadsAt(0x4000_0002), 1);
 * ```
 */
export class SnoopingMemory extends GuestMemory {
  #seq = 0;
  #quiet = 0;
  #loads = 0;
  #stores = 0;
  #views = 0;
  readonly #loadCounts = new Map<number, number>();
  #storeHooks: readonly AccessHook[] = [];
  #loadHooks: readonly AccessHook[] = [];
  #log: MemoryAccess[] | null = null;

  /**
   * Zeroed RAM of `size` bytes, or a wrapped buffer, as {@linkcode GuestMemory}.
   *
   * @param sizeOrBuffer Size in bytes, or a buffer to wrap.
   * @param options Base address (and the slice of a wrapped buffer).
   * @throws {RangeError} As `GuestMemory`'s constructor.
   */
  constructor(sizeOrBuffer: number | ArrayBufferLike, options: WrapOptions = {}) {
    super(sizeOrBuffer, options);
  }

  /** Loads observed (fields and bulk copies). */
  get loads(): number {
    return this.#loads;
  }

  /** Stores observed (fields and bulk copies). */
  get stores(): number {
    return this.#stores;
  }

  /** Views taken through `bytes()`. */
  get views(): number {
    return this.#views;
  }

  /** Accesses observed so far: the `seq` the next one gets, minus 1. */
  get accesses(): number {
    return this.#seq;
  }

  /**
   * Loads observed that started at exactly `address`.
   *
   * @param address Guest-physical address.
   */
  loadsAt(address: number): number {
    return this.#loadCounts.get(address) ?? 0;
  }

  /**
   * Loads observed that started inside a range.
   *
   * @param range The range.
   */
  loadsIn(range: AddressRange): number {
    let n = 0;
    for (const [address, count] of this.#loadCounts) {
      if (address >= range.start && address < range.start + range.bytes) n += count;
    }
    return n;
  }

  /** Forgets the load and store counts (the `seq` numbering goes on). */
  resetCounts(): void {
    this.#loads = 0;
    this.#stores = 0;
    this.#views = 0;
    this.#loadCounts.clear();
  }

  /**
   * Runs `hook` after every observed store (field, bulk copy or view).
   *
   * @param hook The hook.
   * @returns A function that removes it.
   */
  onStore(hook: AccessHook): () => void {
    this.#storeHooks = [...this.#storeHooks, hook];
    return () => {
      this.#storeHooks = this.#storeHooks.filter((h) => h !== hook);
    };
  }

  /**
   * Runs `hook` after every observed load (field or bulk copy).
   *
   * @param hook The hook.
   * @returns A function that removes it.
   */
  onLoad(hook: AccessHook): () => void {
    this.#loadHooks = [...this.#loadHooks, hook];
    return () => {
      this.#loadHooks = this.#loadHooks.filter((h) => h !== hook);
    };
  }

  /**
   * Starts (or stops) keeping every observed access in a list, in order.
   *
   * @param on Whether to keep them; starting again begins a new list.
   * @returns The list that fills from now on (empty and no longer filled when `on` is false).
   */
  record(on = true): readonly MemoryAccess[] {
    this.#log = on ? [] : null;
    return this.#log ?? [];
  }

  /**
   * Collects every store and view that touches a range from now on: the
   * detector of stores into the descriptor table, the available ring...
   *
   * @param range The range.
   * @returns The watch; `stop()` it when done.
   */
  watchStores(range: AddressRange): StoreWatch {
    const stores: MemoryAccess[] = [];
    const stop = this.onStore((s) => {
      if (touches(s, range)) stores.push(s);
    });
    return { range, stores, stop };
  }

  /**
   * Runs `fn` with nothing observed: no hook runs and nothing is counted or
   * recorded. For a grader's own setup and inspection of the memory.
   *
   * @param fn What to run.
   * @returns What `fn` returned.
   */
  quietly<T>(fn: () => T): T {
    this.#quiet++;
    try {
      return fn();
    } finally {
      this.#quiet--;
    }
  }

  /** Whether accesses are observed right now (not inside a hook or `quietly`). */
  get observing(): boolean {
    return this.#quiet === 0;
  }

  #observe(
    kind: AccessKind,
    method: string,
    address: number,
    width: number,
    value: number | bigint | null,
  ): void {
    if (this.#quiet !== 0) return;
    const access: MemoryAccess = { seq: ++this.#seq, kind, address, width, value, method };
    this.#log?.push(access);
    let hooks: readonly AccessHook[];
    if (kind === "load") {
      this.#loads++;
      this.#loadCounts.set(address, (this.#loadCounts.get(address) ?? 0) + 1);
      hooks = this.#loadHooks;
    } else {
      if (kind === "store") this.#stores++;
      else this.#views++;
      hooks = this.#storeHooks;
    }
    if (hooks.length === 0) return;
    this.#quiet++;
    try {
      for (const hook of hooks) hook(access);
    } finally {
      this.#quiet--;
    }
  }

  /** Reads a u8, observed. @throws {GuestMemoryError} Outside RAM. */
  override readU8(address: number): number {
    const v = super.readU8(address);
    this.#observe("load", "readU8", address, 1, v);
    return v;
  }

  /** Reads a little-endian u16, observed. @throws {GuestMemoryError} Outside RAM. */
  override readU16(address: number): number {
    const v = super.readU16(address);
    this.#observe("load", "readU16", address, 2, v);
    return v;
  }

  /** Reads a little-endian u32, observed. @throws {GuestMemoryError} Outside RAM. */
  override readU32(address: number): number {
    const v = super.readU32(address);
    this.#observe("load", "readU32", address, 4, v);
    return v;
  }

  /** Reads a little-endian u64 as a `bigint`, observed. @throws {GuestMemoryError} Outside RAM. */
  override readU64(address: number): bigint {
    const v = super.readU64(address);
    this.#observe("load", "readU64", address, 8, v);
    return v;
  }

  /**
   * Reads a little-endian u64 as a `number` (`Infinity` above 2^53), observed. @throws
   * {GuestMemoryError} Outside RAM.
   */
  override readU64Number(address: number): number {
    const v = super.readU64Number(address);
    this.#observe("load", "readU64Number", address, 8, v);
    return v;
  }

  /** Writes a u8, observed after the store. @throws {GuestMemoryError} Outside RAM. */
  override writeU8(address: number, value: number): void {
    super.writeU8(address, value);
    this.#observe("store", "writeU8", address, 1, value & 0xff);
  }

  /**
   * Writes a little-endian u16, observed after the store. @throws {GuestMemoryError} Outside RAM.
   */
  override writeU16(address: number, value: number): void {
    super.writeU16(address, value);
    this.#observe("store", "writeU16", address, 2, value & 0xffff);
  }

  /**
   * Writes a little-endian u32, observed after the store. @throws {GuestMemoryError} Outside RAM.
   */
  override writeU32(address: number, value: number): void {
    super.writeU32(address, value);
    this.#observe("store", "writeU32", address, 4, value >>> 0);
  }

  /**
   * Writes a little-endian u64, observed after the store.
   *
   * @throws {GuestMemoryError} Outside RAM.
   * @throws {RangeError} If a `number` value is not a non-negative safe integer.
   */
  override writeU64(address: number, value: bigint | number): void {
    super.writeU64(address, value);
    this.#observe(
      "store",
      "writeU64",
      address,
      8,
      typeof value === "bigint" ? BigInt.asUintN(64, value) : value,
    );
  }

  /**
   * A zero-copy view of guest bytes. Taking it is observed (kind `"view"`);
   * what is written through it later is not.
   *
   * @throws {GuestMemoryError} If the range is not inside RAM.
   */
  override bytes(address: number, length: number): Uint8Array {
    const view = super.bytes(address, length);
    this.#observe("view", "bytes", address, length, null);
    return view;
  }

  /** Copies guest bytes out, observed as one bulk load. @throws {GuestMemoryError} Outside RAM. */
  override read(address: number, dest: Uint8Array): void {
    // Not also a view: the base class reads through bytes().
    this.quietly(() => super.read(address, dest));
    this.#observe("load", "read", address, dest.length, null);
  }

  /**
   * Copies bytes into guest memory, observed as one bulk store. @throws {GuestMemoryError} Outside
   * RAM.
   */
  override write(address: number, src: Uint8Array): void {
    super.write(address, src);
    this.#observe("store", "write", address, src.length, null);
  }

  /**
   * Fills guest memory with a byte, observed as one bulk store. @throws {GuestMemoryError} Outside
   * RAM.
   */
  override fill(address: number, length: number, value = 0): void {
    super.fill(address, length, value);
    this.#observe("store", "fill", address, length, null);
  }

  /** A hex dump, for displays: not observed. @throws {GuestMemoryError} Outside RAM. */
  override dump(address: number, length: number): string {
    return this.quietly(() => super.dump(address, length));
  }

  /** Text form for the REPL. */
  [Symbol.for("Deno.customInspect")](): string {
    return `SnoopingMemory { ${this.size} bytes at [${hexAddress(this.base)}, ${
      hexAddress(this.end)
    }), ${this.#loads} load(s), ${this.#stores} store(s) observed }`;
  }
}
