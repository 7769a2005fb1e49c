/**
 * Guest-physical memory: the RAM that a driver and a device share.
 *
 * Everything virtio puts in memory (descriptor tables, rings, request headers,
 * data buffers) is little-endian for modern devices (virtio v1.2 §2.4, §2.7),
 * so every accessor here is little-endian regardless of the host.
 *
 * Addresses are guest-physical and plain `number`s (never above 2^53). RAM
 * occupies `[base, base + size)`; an access that does not fit there throws a
 * {@linkcode GuestMemoryError} naming the address and length.
 *
 * One region holds at most 4 GiB ({@linkcode MAX_GUEST_MEMORY_SIZE}), so
 * every offset into it is below 2^32; a larger guest maps several regions.
 *
 * The accessors are the hot path of every ring operation, so each does the
 * least it can while still refusing every access outside RAM, before
 * anything is read or written: `(offset >>> 0) === offset` accepts exactly
 * the whole offsets from 0 to 2^32 - 1 (it fails for negative, fractional,
 * NaN and larger values), and one comparison with the last offset where the
 * width fits is the end of RAM. Every failure goes to one small function
 * that throws, so that each accessor stays a few dozen bytes of bytecode and
 * the JIT inlines many of them into ring code (its inlining budget is
 * counted in bytecode). They are ordinary methods: a subclass can override
 * them to watch every access.
 *
 * @module
 */

/** Largest guest-physical address this model can represent exactly (2^53 - 1). */
export const MAX_GUEST_ADDRESS: number = Number.MAX_SAFE_INTEGER;

/**
 * Largest size of one {@linkcode GuestMemory} region, in bytes: 4 GiB, so
 * that every offset into it is below 2^32 and the accessors' range test is
 * one 32-bit comparison. A guest with more RAM has several regions, as a VMM
 * has several memory slots.
 */
export const MAX_GUEST_MEMORY_SIZE: number = 2 ** 32;

/** An access fell outside guest RAM (or was not a whole non-negative address). */
export class GuestMemoryError extends RangeError {
  /** The guest-physical address of the access. */
  readonly address: number;
  /** The length of the access, in bytes. */
  readonly length: number;
  /** First guest-physical address of RAM. */
  readonly base: number;
  /** Size of RAM, in bytes. */
  readonly size: number;

  /**
   * Records the access that fell outside RAM.
   *
   * @param address Guest-physical address of the access.
   * @param length Length of the access, in bytes.
   * @param base First address of RAM.
   * @param size Size of RAM, in bytes.
   */
  constructor(address: number, length: number, base: number, size: number) {
    super(
      `Guest-physical access of ${length} byte(s) at ${hexAddress(address)} is outside RAM ` +
        `[${hexAddress(base)}, ${hexAddress(base + size)})`,
    );
    this.name = "GuestMemoryError";
    this.address = address;
    this.length = length;
    this.base = base;
    this.size = size;
  }
}

/** The first values of GuestMemory's view fields, of the same kinds as their real ones. */
const NO_VIEW = new DataView(new ArrayBuffer(0));
const NO_BYTES = new Uint8Array(0);

/**
 * Whether `memory` is exactly a {@linkcode GuestMemory}, not an instance of a
 * subclass, whose accessors may do more than load and store (observe stores,
 * count reads) and must not be bypassed. The split ring's fused fast paths
 * (`virtqueue/driver/fast_path.ts`, `virtqueue/device/fast_path.ts`) address
 * RAM through {@linkcode ramViewOf} only for such a memory.
 *
 * @param memory The RAM.
 * @returns `true` for a plain `GuestMemory`.
 */
export function isPlainGuestMemory(memory: GuestMemory): boolean {
  return Object.getPrototypeOf(memory) === GuestMemory.prototype;
}

/**
 * The current view of a memory (set by GuestMemory's static block). Read it
 * again at every use: it is the view of the buffer the RAM lives in now.
 * Code that reads or writes through it must have checked, once, that every
 * offset it uses lies inside RAM; the view gives none of
 * {@linkcode GuestMemoryError}'s guarantees. Not exported from the package.
 *
 * @param memory Any GuestMemory.
 * @returns Its view.
 */
export let ramViewOf: (memory: GuestMemory) => DataView;

/** Options for {@linkcode GuestMemory}. */
export interface GuestMemoryOptions {
  /** Guest-physical address of the first byte (default 0). */
  readonly base?: number;
}

/** Options for {@linkcode GuestMemory.wrap}. */
export interface WrapOptions extends GuestMemoryOptions {
  /** Offset into the buffer where RAM starts, in bytes (default 0). */
  readonly byteOffset?: number;
  /** Length of RAM in the buffer, in bytes (default: the rest of the buffer). */
  readonly byteLength?: number;
}

/**
 * Little-endian guest-physical memory over one `ArrayBuffer` (or
 * `SharedArrayBuffer`).
 *
 * @example
 * ```ts
 * import { GuestMemory } from "./guest_memory.ts";
 * const ram = new GuestMemory(64 * 1024, { base: 0x4000_0000 });
 * ram.writeU32(0x4000_0010, 0x74726976);
 * ram.readU8(0x4000_0010); // 0x76, the "v" of "virt": little-endian
 * ```
 */
export class GuestMemory {
  // Every field holds its final kind of value from its first store: V8 keeps
  // a field that has only held small integers (or one kind of object) in its
  // cheapest form, where a field that started out `undefined`, as a plain
  // class field declaration makes it, costs each load in the accessors a
  // check. Hence `declare` for the public fields the constructor assigns, and
  // initial values of the right kind for the private ones.

  /** Guest-physical address of the first byte of RAM. */
  declare readonly base: number;
  /** Size of RAM, in bytes. */
  declare readonly size: number;
  /** The backing buffer (possibly shared with other code, see {@linkcode wrap}). */
  declare readonly buffer: ArrayBufferLike;
  // Not readonly: `follow` points them at a buffer that replaced the old one.
  #view: DataView = NO_VIEW;
  #bytes: Uint8Array = NO_BYTES;
  /** The last offsets at which a u16, a u32 and a u64 fit (negative when none does). */
  readonly #last16: number = -1;
  readonly #last32: number = -1;
  readonly #last64: number = -1;

  static {
    ramViewOf = (memory) => memory.#view;
  }

  /**
   * Allocates zeroed RAM of `size` bytes, or wraps an existing buffer (see
   * {@linkcode GuestMemory.wrap}, the clearer spelling of the second form).
   *
   * @param sizeOrBuffer Size in bytes (a non-negative integer), or a buffer to wrap.
   * @param options Where RAM sits in the guest-physical address space; for a
   *   wrapped buffer, also the slice of it that is RAM.
   * @throws {RangeError} If the size or base is not a non-negative integer, the
   *   size is over 4 GiB, the range would end above 2^53, or the slice does
   *   not fit the buffer.
   */
  constructor(sizeOrBuffer: number | ArrayBufferLike, options: WrapOptions = {}) {
    const base = options.base ?? 0;
    let buffer: ArrayBufferLike;
    let byteOffset = 0;
    let byteLength: number;
    if (typeof sizeOrBuffer === "number") {
      checkRange(sizeOrBuffer, base);
      buffer = new ArrayBuffer(sizeOrBuffer);
      byteLength = sizeOrBuffer;
    } else {
      buffer = sizeOrBuffer;
      byteOffset = options.byteOffset ?? 0;
      byteLength = options.byteLength ?? buffer.byteLength - byteOffset;
      if (
        !Number.isInteger(byteOffset) || !Number.isInteger(byteLength) || byteOffset < 0 ||
        byteLength < 0 || byteOffset + byteLength > buffer.byteLength
      ) {
        throw new RangeError(
          `Cannot wrap ${byteLength} byte(s) at offset ${byteOffset} of a ${buffer.byteLength}-byte buffer`,
        );
      }
      checkRange(byteLength, base);
    }
    this.base = base;
    this.size = byteLength;
    this.buffer = buffer;
    this.#view = new DataView(buffer, byteOffset, byteLength);
    this.#bytes = new Uint8Array(buffer, byteOffset, byteLength);
    this.#last16 = byteLength - 2;
    this.#last32 = byteLength - 4;
    this.#last64 = byteLength - 8;
  }

  /**
   * Wraps memory this object did not allocate: a future KVM-backed machine maps
   * real guest RAM this way. No bytes are copied; writes are visible to every
   * other user of the buffer.
   *
   * @param buffer The existing buffer.
   * @param options Base address, and the slice of the buffer that is RAM.
   * @returns Memory whose first byte is `buffer[byteOffset]` at address `base`.
   * @throws {RangeError} If the slice does not fit the buffer.
   */
  static wrap(buffer: ArrayBufferLike, options: WrapOptions = {}): GuestMemory {
    return new GuestMemory(buffer, options);
  }

  /**
   * Points this memory at a buffer that replaced the one it wraps, holding the
   * same RAM: a WebAssembly memory that grows detaches its old `ArrayBuffer`
   * and hands out a larger one (an emulator's RAM lives in one). Base and size
   * stay; the accessors read and write the new buffer from then on. This is a
   * slow path, called by whoever knows the buffer changed (the emulator
   * adapter checks after each run of the CPU), so that the accessors keep no
   * check of their own.
   *
   * @param buffer The new buffer.
   * @param byteOffset Where RAM starts in it, in bytes (default 0).
   * @throws {RangeError} If RAM does not fit the new buffer at that offset.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { GuestMemory } from "./guest_memory.ts";
   * const wasm = new WebAssembly.Memory({ initial: 1, maximum: 2 });
   * const memory = GuestMemory.wrap(wasm.buffer, { byteOffset: 4096, byteLength: 4096 });
   * memory.writeU32(16, 0xfeedface);
   * wasm.grow(1); // detaches the buffer memory wraps
   * memory.follow(wasm.buffer, 4096);
   * assert.equal(memory.readU32(16), 0xfeedface);
   * ```
   */
  follow(buffer: ArrayBufferLike, byteOffset = 0): void {
    if (
      !Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset + this.size > buffer.byteLength
    ) {
      throw new RangeError(
        `Cannot follow ${this.size} byte(s) of RAM to offset ${byteOffset} of a ` +
          `${buffer.byteLength}-byte buffer`,
      );
    }
    (this as { buffer: ArrayBufferLike }).buffer = buffer;
    this.#view = new DataView(buffer, byteOffset, this.size);
    this.#bytes = new Uint8Array(buffer, byteOffset, this.size);
  }

  /** One past the last guest-physical address of RAM. */
  get end(): number {
    return this.base + this.size;
  }

  /**
   * Whether `[address, address + length)` lies inside RAM.
   *
   * @param address Guest-physical address.
   * @param length Length in bytes (0 is allowed and means "the address is in range or at the end").
   */
  contains(address: number, length: number): boolean {
    const offset = address - this.base;
    // `(offset >>> 0) === offset` holds exactly for the whole offsets below
    // 2^32, which is every offset into a region of at most 4 GiB.
    return (offset >>> 0) === offset && length >= 0 && length <= this.size - offset &&
      Number.isInteger(length);
  }

  /**
   * Throws unless `[address, address + length)` lies inside RAM.
   *
   * @param address Guest-physical address.
   * @param length Length in bytes.
   * @throws {GuestMemoryError} If the range is not inside RAM.
   */
  check(address: number, length: number): void {
    if (!this.contains(address, length)) {
      throw new GuestMemoryError(address, length, this.base, this.size);
    }
  }

  /** Reads a u8. @throws {GuestMemoryError} Outside RAM. */
  readU8(address: number): number {
    const offset = address - this.base;
    return (offset >>> 0) === offset && offset < this.size
      ? this.#bytes[offset]
      : outside1(this, address);
  }

  /** Reads a little-endian u16. @throws {GuestMemoryError} Outside RAM. */
  readU16(address: number): number {
    const offset = address - this.base;
    return (offset >>> 0) === offset && offset <= this.#last16
      ? this.#view.getUint16(offset, true)
      : outside2(this, address);
  }

  /** Reads a little-endian u32. @throws {GuestMemoryError} Outside RAM. */
  readU32(address: number): number {
    const offset = address - this.base;
    return (offset >>> 0) === offset && offset <= this.#last32
      ? this.#view.getUint32(offset, true)
      : outside4(this, address);
  }

  /** Reads a little-endian u64 as a `bigint`. @throws {GuestMemoryError} Outside RAM. */
  readU64(address: number): bigint {
    const offset = address - this.base;
    return (offset >>> 0) === offset && offset <= this.#last64
      ? this.#view.getBigUint64(offset, true)
      : outside8(this, address);
  }

  /**
   * Reads a little-endian u64 as a `number`, for values known to be addresses
   * or lengths.
   *
   * @returns The value, or `Infinity` if it is above 2^53 - 1 (such a value
   *   can never be a valid address in this model, and `Infinity` fails every
   *   range check).
   * @throws {GuestMemoryError} Outside RAM.
   */
  readU64Number(address: number): number {
    const offset = address - this.base;
    if (!((offset >>> 0) === offset && offset <= this.#last64)) outside8(this, address);
    const view = this.#view;
    const lo = view.getUint32(offset, true);
    const hi = view.getUint32(offset + 4, true);
    // Returning `lo` itself below 4 GiB keeps the result a small integer in
    // the JIT's eyes: one double stored into a `{ addr, len }` segment would
    // make every segment object box its address from then on.
    return hi === 0 ? lo : u64Number(hi, lo);
  }

  /** Writes a u8 (the low 8 bits of `value`). @throws {GuestMemoryError} Outside RAM. */
  writeU8(address: number, value: number): void {
    const offset = address - this.base;
    if ((offset >>> 0) === offset && offset < this.size) this.#bytes[offset] = value;
    else outside1(this, address);
  }

  /** Writes a little-endian u16 (the low 16 bits). @throws {GuestMemoryError} Outside RAM. */
  writeU16(address: number, value: number): void {
    const offset = address - this.base;
    if ((offset >>> 0) === offset && offset <= this.#last16) {
      this.#view.setUint16(offset, value, true);
    } else outside2(this, address);
  }

  /** Writes a little-endian u32 (the low 32 bits). @throws {GuestMemoryError} Outside RAM. */
  writeU32(address: number, value: number): void {
    const offset = address - this.base;
    if ((offset >>> 0) === offset && offset <= this.#last32) {
      this.#view.setUint32(offset, value, true);
    } else outside4(this, address);
  }

  /**
   * Writes a little-endian u64.
   *
   * @param value A `bigint` (low 64 bits are written) or a non-negative safe integer.
   * @throws {GuestMemoryError} Outside RAM (nothing is written).
   * @throws {RangeError} If a `number` value is not a non-negative safe integer (nothing is written).
   */
  writeU64(address: number, value: bigint | number): void {
    const offset = address - this.base;
    // The common case, a number below 2^32 (an address or a length): its
    // high word is 0. Everything else, including every error, goes the long way.
    if (
      (offset >>> 0) === offset && offset <= this.#last64 && typeof value === "number" &&
      (value >>> 0) === value
    ) {
      const view = this.#view;
      view.setUint32(offset, value, true);
      view.setUint32(offset + 4, 0, true);
    } else {
      this.#writeU64Slow(address, value);
    }
  }

  /** {@linkcode writeU64} for values of 2^32 and more, bigints, and accesses that fail. */
  #writeU64Slow(address: number, value: bigint | number): void {
    const offset = address - this.base;
    // Two 32-bit stores: the whole range is checked first, so that a store
    // straddling the end of RAM writes nothing.
    if (!((offset >>> 0) === offset && offset <= this.#last64)) outside8(this, address);
    if (typeof value === "number") {
      if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value))) {
        notU64(value);
      }
      // `>>> 0` is the value modulo 2^32, exactly (a double `%` would be a
      // runtime call); the rest divides exactly.
      const lo = value >>> 0;
      this.#view.setUint32(offset, lo, true);
      this.#view.setUint32(offset + 4, (value - lo) / 0x1_0000_0000, true);
    } else {
      this.#view.setBigUint64(offset, BigInt.asUintN(64, value), true);
    }
  }

  /**
   * A zero-copy view of guest bytes: writes through the view change RAM.
   *
   * @param address Guest-physical address of the first byte.
   * @param length Length in bytes.
   * @returns A `Uint8Array` over the backing buffer.
   * @throws {GuestMemoryError} If the range is not inside RAM.
   */
  bytes(address: number, length: number): Uint8Array {
    const offset = checkedOffset(this, address, length);
    return this.#bytes.subarray(offset, offset + length);
  }

  /**
   * Copies guest bytes out into `dest`.
   *
   * @param address Guest-physical address of the first byte.
   * @param dest Receives `dest.length` bytes.
   * @throws {GuestMemoryError} If the range is not inside RAM.
   */
  read(address: number, dest: Uint8Array): void {
    dest.set(this.bytes(address, dest.length));
  }

  /**
   * Copies `src` into guest memory.
   *
   * @param address Guest-physical address of the first byte.
   * @param src The bytes to write.
   * @throws {GuestMemoryError} If the range is not inside RAM.
   */
  write(address: number, src: Uint8Array): void {
    this.#bytes.set(src, checkedOffset(this, address, src.length));
  }

  /**
   * Fills a range of guest memory with one byte value.
   *
   * @param address Guest-physical address of the first byte.
   * @param length Length in bytes.
   * @param value Byte value (default 0).
   * @throws {GuestMemoryError} If the range is not inside RAM.
   */
  fill(address: number, length: number, value = 0): void {
    const offset = checkedOffset(this, address, length);
    this.#bytes.fill(value, offset, offset + length);
  }

  /**
   * A hex dump of guest memory, 16 bytes a line, for the REPL and lessons.
   *
   * @param address First address to dump.
   * @param length Number of bytes.
   * @throws {GuestMemoryError} If the range is not inside RAM.
   */
  dump(address: number, length: number): string {
    return hexDump(this.bytes(address, length), address);
  }

  /** Text form for the REPL. */
  [Symbol.for("Deno.customInspect")](): string {
    return `GuestMemory { ${this.size} bytes at [${hexAddress(this.base)}, ${
      hexAddress(this.end)
    }) }`;
  }
}

/**
 * Formats a guest-physical address as `0x` and at least 8 hex digits.
 *
 * @param address A non-negative integer.
 */
export function hexAddress(address: number): string {
  if (!Number.isInteger(address)) return String(address);
  const sign = address < 0 ? "-" : "";
  return `${sign}0x${Math.abs(address).toString(16).padStart(8, "0")}`;
}

/**
 * A classic hex dump, as `hexdump -C` prints it: offset, 16 hex bytes,
 * printable ASCII; a run of lines identical to the one before is shown as a
 * single `*`, and a last line gives the offset just past the end.
 *
 * @param bytes The bytes to show.
 * @param startAddress The address printed for the first byte (default 0).
 * @returns Lines joined with `\n`, no trailing newline.
 */
export function hexDump(bytes: Uint8Array, startAddress = 0): string {
  const lines: string[] = [];
  let previous: string | null = null;
  let skipping = false;
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, Math.min(i + 16, bytes.length));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0"));
    const body = `${hex.slice(0, 8).join(" ").padEnd(23)}  ${hex.slice(8).join(" ").padEnd(23)}`;
    if (body === previous && row.length === 16) {
      if (!skipping) lines.push("*");
      skipping = true;
      continue;
    }
    skipping = false;
    previous = body;
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "."))
      .join("");
    lines.push(`${(startAddress + i).toString(16).padStart(8, "0")}  ${body}  |${ascii}|`);
  }
  if (bytes.length > 0) lines.push((startAddress + bytes.length).toString(16).padStart(8, "0"));
  return lines.join("\n");
}

/**
 * The offset into the buffer of `[address, address + length)`, which must
 * lie inside `memory`'s RAM: the general form of the check, for the
 * accessors of variable length (`bytes`, `fill`, `read`, `write`) and the
 * rarely used ones.
 *
 * @throws {GuestMemoryError} If the range is not inside RAM.
 */
function checkedOffset(memory: GuestMemory, address: number, length: number): number {
  const offset = address - memory.base;
  // The comparison chain rejects negative offsets and lengths, overruns and
  // NaN; the integer tests reject fractional values that typed arrays would
  // silently truncate. (`x % 1` on a double would be a runtime call.)
  if (
    !(offset >= 0 && length >= 0 && offset + length <= memory.size &&
      Number.isInteger(offset) && Number.isInteger(length))
  ) {
    throw new GuestMemoryError(address, length, memory.base, memory.size);
  }
  return offset;
}

/**
 * The accessors' way out: throws the {@linkcode GuestMemoryError} for an
 * access the fast test refused, or a `TypeError` when the buffer was
 * detached (transferred elsewhere) and nothing is RAM any more. Only ever
 * called on failure, and kept out of the accessors so that they stay small
 * enough for the JIT to inline into ring code.
 */
function outside(memory: GuestMemory, address: number, length: number): never {
  if ((memory.buffer as ArrayBuffer).detached === true) {
    throw new TypeError(`Guest memory's buffer was detached: access at ${hexAddress(address)}`);
  }
  throw new GuestMemoryError(address, length, memory.base, memory.size);
}

// One way out per width, so that each accessor passes only the memory and
// the address: every byte of bytecode counts against the inlining budget.

function outside1(memory: GuestMemory, address: number): never {
  return outside(memory, address, 1);
}

function outside2(memory: GuestMemory, address: number): never {
  return outside(memory, address, 2);
}

function outside4(memory: GuestMemory, address: number): never {
  return outside(memory, address, 4);
}

function outside8(memory: GuestMemory, address: number): never {
  return outside(memory, address, 8);
}

/** A u64 from its halves, as {@linkcode GuestMemory.readU64Number} returns it (`hi` above 0). */
function u64Number(hi: number, lo: number): number {
  return hi >= 0x20_0000 ? Infinity : hi * 0x1_0000_0000 + lo;
}

function notU64(value: number): never {
  throw new RangeError(`Cannot store ${value} as a u64; pass a bigint`);
}

function checkRange(size: number, base: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`Guest memory size ${size} is not a non-negative integer`);
  }
  if (size > MAX_GUEST_MEMORY_SIZE) {
    throw new RangeError(
      `Guest memory size ${size} is over 4 GiB (${MAX_GUEST_MEMORY_SIZE} bytes); map larger RAM ` +
        "as several regions",
    );
  }
  if (!Number.isSafeInteger(base) || base < 0 || base + size > MAX_GUEST_ADDRESS) {
    throw new RangeError(`Guest memory base ${base} with size ${size} is outside [0, 2^53)`);
  }
}
