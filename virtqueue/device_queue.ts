/**
 * The device half of a split virtqueue (virtio v1.2 §2.7), hardened the way
 * QEMU's and Linux vhost's virtqueue code is: every chain popped from the
 * available ring is walked and validated before a device model sees it, and
 * a driver that breaks a rule gets a reported violation and a broken queue,
 * never an exception out of the device.
 *
 * Each descriptor is read from guest memory exactly once, into locals, and
 * validated there; the returned chain holds copies of the addresses and
 * lengths, so a driver rewriting the table after the walk changes nothing
 * (no double fetch). The device never writes the descriptor table
 * (§2.7.5.1/2) and writes the available ring never.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import { ConformanceError, type Violation, type ViolationValue } from "../conformance/log.ts";
import { type GuestMemory, GuestMemoryError, hexAddress } from "../memory/guest_memory.ts";
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
} from "./constants.ts";
import {
  availEventOffset,
  availRingEntryOffset,
  availRingSize,
  descOffset,
  descTableSize,
  isValidQueueSize,
  QueueSizeError,
  usedElemOffset,
  usedEventOffset,
  usedRingSize,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
  VIRTQ_USED_ELEM_ID_OFFSET,
  VIRTQ_USED_ELEM_LEN_OFFSET,
  VIRTQ_USED_FLAGS_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "./layout.ts";
import { vringNeedEvent } from "./event_idx.ts";
import type {
  BufferSegment,
  DescriptorChain,
  DeviceQueue,
  DeviceQueueFactory,
  DeviceQueueStats,
  SplitQueueConfig,
} from "./types.ts";

/** Largest total length of one chain, in bytes (§2.7.5.2/1). */
const MAX_CHAIN_BYTES = 2 ** 32;

/** Shared by every chain without readable or without writable buffers. */
const NO_SEGMENTS: readonly BufferSegment[] = Object.freeze([]);

/** What the device does about a chain that breaks a rule. */
const BROKEN_ACTION = "queue marked broken until reset; device needs reset";

/**
 * The device half of a split virtqueue (§2.7).
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../memory/guest_memory.ts";
 * import { GuestAllocator } from "../memory/allocator.ts";
 * import { ConformanceLog } from "../conformance/log.ts";
 * import { SplitQueueDriver } from "./driver_queue.ts";
 * import { SplitQueueDevice } from "./device_queue.ts";
 *
 * const memory = new GuestMemory(1 << 20);
 * const allocator = new GuestAllocator(memory);
 * const log = new ConformanceLog();
 * const common = { memory, index: 0, size: 8, eventIdx: true, indirect: true };
 * const driver = SplitQueueDriver.create<string>({ ...common, allocator, reporter: log.scoped("driver") });
 * const device = new SplitQueueDevice({ ...common, ...driver.addresses, reporter: log.scoped("device") });
 *
 * const buf = allocator.alloc(512);
 * driver.add([], [{ addr: buf, len: 512 }], "read 512");
 * driver.kickPrepare();
 * const chain = device.pop()!; // chain.writableLength === 512
 * device.push(chain.head, 512);
 * device.needsInterrupt(); // true
 * driver.getBuf(); // { token: "read 512", len: 512 }
 * ```
 */
export class SplitQueueDevice implements DeviceQueue {
  /** Queue index within the device. */
  readonly index: number;
  /** Queue Size, in descriptors. */
  readonly size: number;

  readonly #memory: GuestMemory;
  readonly #desc: number;
  readonly #avail: number;
  readonly #used: number;
  readonly #mask: number;
  readonly #eventIdx: boolean;
  readonly #indirect: boolean;
  readonly #reporter: SplitQueueConfig["reporter"];
  readonly #onBroken: (violation: Violation) => void;
  readonly #usedEventAddr: number;
  readonly #availEventAddr: number;

  /** The device's `last_avail_idx`: the next available ring entry to pop. */
  #lastAvail = 0;
  /** The used `idx` as last written. */
  #usedIdx = 0;
  /** The used `idx` at the last notification decision. */
  #signalledUsed = 0;
  #notifications = true;
  #broken: Violation | null = null;
  #lastBadAvailFlags = -1;

  /** Per head: how many times it was popped and not pushed yet. */
  readonly #inUse: Uint16Array;
  /** Per head: writable bytes of the chain as popped. */
  readonly #writableLength: Float64Array;
  #inFlight = 0;

  #statChains = 0;
  #statBytesRead = 0;
  #statBytesWritten = 0;
  #statUsed = 0;

  /**
   * Builds the device half over the parts the driver configured. Nothing is
   * read or written until the first call.
   *
   * @param config Memory, the three part addresses, Queue Size, negotiated
   *   features, and the reporter for driver violations.
   * @param onBroken Called once, with the violation, when the queue breaks;
   *   the transport sets DEVICE_NEEDS_RESET there.
   * @throws {QueueSizeError} If `size` is not a power of two from 1 to 32768
   *   (the transport refuses such a `QueueNum` before building a queue).
   */
  constructor(config: SplitQueueConfig, onBroken: (violation: Violation) => void = () => {}) {
    if (!isValidQueueSize(config.size)) throw new QueueSizeError(config.size);
    this.index = config.index;
    this.size = config.size;
    this.#memory = config.memory;
    this.#desc = config.descAddr;
    this.#avail = config.availAddr;
    this.#used = config.usedAddr;
    this.#mask = config.size - 1;
    this.#eventIdx = config.eventIdx;
    this.#indirect = config.indirect;
    this.#reporter = config.reporter;
    this.#onBroken = onBroken;
    this.#usedEventAddr = config.availAddr + usedEventOffset(config.size);
    this.#availEventAddr = config.usedAddr + availEventOffset(config.size);
    this.#inUse = new Uint16Array(config.size);
    this.#writableLength = new Float64Array(config.size);
  }

  /** The violation that broke this queue, or `null` while it is healthy. */
  get broken(): Violation | null {
    return this.#broken;
  }

  /** Counters since the queue was created (a fresh snapshot on every read). */
  get stats(): DeviceQueueStats {
    return {
      chains: this.#statChains,
      bytesRead: this.#statBytesRead,
      bytesWritten: this.#statBytesWritten,
      used: this.#statUsed,
    };
  }

  /** The device's `last_avail_idx`: index of the next available ring entry to pop (16-bit). */
  get lastAvailIdx(): number {
    return this.#lastAvail;
  }

  /** The used `idx` as last written (16-bit). */
  get usedIdx(): number {
    return this.#usedIdx;
  }

  /** Chains popped and not pushed yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether the available ring holds chains not popped yet (false when broken). */
  hasAvailable(): boolean {
    if (this.#broken) return false;
    try {
      return this.#memory.readU16(this.#avail + VIRTQ_AVAIL_IDX_OFFSET) !== this.#lastAvail;
    } catch (e) {
      this.#ringAccessFailed(e);
      return false;
    }
  }

  /**
   * Takes the next chain from the available ring and validates it (§2.7.5,
   * §2.7.6). A rule the driver broke is reported with its id and breaks the
   * queue: the available `idx` more than Queue Size ahead (§2.7.6/D1), an
   * index out of range (§2.7.5/D1), a loop or over-long chain
   * (§2.7.5.3.1/3, which 2.7.5.2/1 also forbids), a buffer outside RAM
   * (§2.7.5/D2), a zero-length buffer (§2.7.5/D3), readable after writable
   * (§2.7.4.2/1), indirect not negotiated (§2.7.5.3.1/1), a bad indirect
   * table length (§2.7.5.3/D1), INDIRECT with NEXT (§2.7.5.3.1/4), a nested
   * table (§2.7.5.3.1/2), more than 2^32 bytes (§2.7.5.2/1), and any ring
   * or table that is not inside RAM (§2.7.5/D2). Bad available ring `flags`
   * are only logged (§2.7.7.1/1, §2.7.7.1/2).
   *
   * A chain may be zero or more direct descriptors followed by one that
   * points to an indirect table (§2.7.5.3.2/2); the `VIRTQ_DESC_F_WRITE`
   * flag of that pointing descriptor is ignored (§2.7.5.3.2/1).
   *
   * @returns The chain, or `null` when none is available or the queue is broken.
   * @throws {ConformanceError} When the conformance log is strict and a rule is broken.
   */
  pop(): DescriptorChain | null {
    if (this.#broken) return null;
    const memory = this.#memory;
    try {
      const availIdx = memory.readU16(this.#avail + VIRTQ_AVAIL_IDX_OFFSET);
      const last = this.#lastAvail;
      if (availIdx === last) return null;
      const pending = (availIdx - last) & 0xffff;
      if (pending > 0x8000) {
        // Seen modulo 2^16, a step back looks like a huge step forward:
        // the driver moved idx backwards, taking back exposed buffers.
        return this.#fail(
          "2.7.6.1/1",
          `Available idx went back from ${last} to ${availIdx}: exposed buffers cannot be taken back`,
          { availIdx, lastAvailIdx: last },
        );
      }
      if (pending > this.size) {
        return this.#fail(
          "2.7.6/D1",
          `Available idx ${availIdx} is ${pending} entries ahead of the device's ${last}, ` +
            `more than the queue size ${this.size}`,
          { availIdx, lastAvailIdx: last, size: this.size },
        );
      }
      this.#checkAvailFlags(memory.readU16(this.#avail + VIRTQ_AVAIL_FLAGS_OFFSET));
      // QEMU and vhost put a read barrier here (idx before the ring entry);
      // in this single-threaded model program order already guarantees it.
      const slot = last & this.#mask;
      const head = memory.readU16(this.#avail + availRingEntryOffset(slot));
      const chain = this.#walk(head, slot);
      if (chain === null) return null;

      const lastAvail = (last + 1) & 0xffff;
      this.#lastAvail = lastAvail;
      if (this.#eventIdx) {
        // Keep avail_event on the next entry while notifications are on (so
        // the driver kicks for it), one behind it while they are off.
        memory.writeU16(
          this.#availEventAddr,
          this.#notifications ? lastAvail : (lastAvail - 1) & 0xffff,
        );
      }
      this.#inUse[head]++;
      this.#writableLength[head] = chain.writableLength;
      this.#inFlight++;
      this.#statChains++;
      this.#statBytesRead += chain.readableLength;
      return chain;
    } catch (e) {
      this.#ringAccessFailed(e);
      return null;
    }
  }

  /**
   * Returns a chain to the driver: writes the used element (`id = head`,
   * `len`), then advances the used `idx`, so `len` is in place before the
   * driver can see the entry (§2.7.8.2/1). Does nothing once the queue is
   * broken.
   *
   * @param head The chain's head index, as popped.
   * @param len Bytes written to the chain's writable buffers, from the first
   *   one on (§2.7.8.2/2): at most its `writableLength`.
   * @throws {RangeError} If `head` was not popped (or was pushed already), or
   *   `len` is not an integer from 0 to the chain's writable length: a bug in
   *   the device model, not in the driver.
   */
  push(head: number, len: number): void {
    if (this.#broken) return;
    if (!(Number.isInteger(head) && head >= 0 && head < this.size && this.#inUse[head] > 0)) {
      throw new RangeError(
        `Push of descriptor ${head} on queue ${this.index}, which is not the head of a chain ` +
          "popped and not yet pushed",
      );
    }
    const writable = this.#writableLength[head];
    if (!(Number.isInteger(len) && len >= 0 && len <= writable)) {
      throw new RangeError(
        `Used length ${len} for chain ${head} on queue ${this.index} is not an integer from 0 ` +
          `to its ${writable} writable byte(s) (§2.7.8.2/2)`,
      );
    }
    const memory = this.#memory;
    try {
      const elem = this.#used + usedElemOffset(this.#usedIdx & this.#mask);
      memory.writeU32(elem + VIRTQ_USED_ELEM_ID_OFFSET, head);
      memory.writeU32(elem + VIRTQ_USED_ELEM_LEN_OFFSET, len);
      // §2.7.8.2/1: the element is complete before idx moves (a write barrier
      // in a multi-threaded model; program order here).
      const usedIdx = (this.#usedIdx + 1) & 0xffff;
      memory.writeU16(this.#used + VIRTQ_USED_IDX_OFFSET, usedIdx);
      this.#usedIdx = usedIdx;
    } catch (e) {
      this.#ringAccessFailed(e);
      return;
    }
    this.#inUse[head]--;
    this.#inFlight--;
    this.#statUsed++;
    this.#statBytesWritten += len;
  }

  /**
   * Whether the driver wants a used buffer notification for the entries
   * pushed since the last call, which this call consumes: without
   * `VIRTIO_F_EVENT_IDX`, unless `VIRTQ_AVAIL_F_NO_INTERRUPT` is set in the
   * available ring's `flags` (§2.7.7.2/1); with it, if one of those entries
   * sits at index `used_event` (§2.7.7.2/2; `flags` is ignored).
   *
   * @returns `true` if the transport should raise the used buffer interrupt;
   *   `false` when nothing was pushed, the driver suppressed it, or the queue
   *   is broken.
   */
  needsInterrupt(): boolean {
    if (this.#broken) return false;
    const old = this.#signalledUsed;
    const now = this.#usedIdx;
    if (old === now) return false;
    this.#signalledUsed = now;
    try {
      if (this.#eventIdx) {
        return vringNeedEvent(this.#memory.readU16(this.#usedEventAddr), now, old);
      }
      const flags = this.#memory.readU16(this.#avail + VIRTQ_AVAIL_FLAGS_OFFSET);
      this.#checkAvailFlags(flags);
      return (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    } catch (e) {
      this.#ringAccessFailed(e);
      return false;
    }
  }

  /**
   * Asks the driver not to send available buffer notifications (§2.7.10):
   * sets `VIRTQ_USED_F_NO_NOTIFY` without `VIRTIO_F_EVENT_IDX`; with it,
   * keeps `flags` at 0 (§2.7.10.2/2) and moves `avail_event` just behind the
   * next entry to pop, which the driver cannot reach before the device pops
   * again. Advisory only: the driver may still notify (§2.7.10.2/3).
   */
  disableNotifications(): void {
    if (this.#broken) return;
    this.#notifications = false;
    try {
      if (this.#eventIdx) {
        this.#memory.writeU16(this.#availEventAddr, (this.#lastAvail - 1) & 0xffff);
      } else {
        this.#memory.writeU16(this.#used + VIRTQ_USED_FLAGS_OFFSET, VIRTQ_USED_F_NO_NOTIFY);
      }
    } catch (e) {
      this.#ringAccessFailed(e);
    }
  }

  /**
   * Asks for available buffer notifications again (§2.7.10): clears
   * `VIRTQ_USED_F_NO_NOTIFY`, or sets `avail_event` to the next entry to pop;
   * then reads the available `idx` again.
   *
   * @returns `true` if chains became available meanwhile (pop them, or they
   *   wait for a notification that will not come); `false` otherwise and when
   *   the queue is broken.
   */
  enableNotifications(): boolean {
    if (this.#broken) return false;
    this.#notifications = true;
    try {
      if (this.#eventIdx) {
        this.#memory.writeU16(this.#availEventAddr, this.#lastAvail);
      } else {
        this.#memory.writeU16(this.#used + VIRTQ_USED_FLAGS_OFFSET, 0);
      }
      // A full barrier belongs here in a multi-threaded model: publish the
      // suppression field, then look at idx again.
      return this.#memory.readU16(this.#avail + VIRTQ_AVAIL_IDX_OFFSET) !== this.#lastAvail;
    } catch (e) {
      this.#ringAccessFailed(e);
      return false;
    }
  }

  /** Text form for the REPL. */
  [Symbol.for("Deno.customInspect")](): string {
    const state = this.#broken ? `broken by §${this.#broken.id}` : "ok";
    return `SplitQueueDevice { index: ${this.index}, size: ${this.size}, last avail idx: ` +
      `${this.#lastAvail}, used idx: ${this.#usedIdx}, in flight: ${this.#inFlight}, ${state} }`;
  }

  /**
   * Walks and validates the chain at `head`. Shape first (indices, flags,
   * lengths, indirect rules), then whether every buffer lies in RAM.
   */
  #walk(head: number, slot: number): DescriptorChain | null {
    const size = this.size;
    const memory = this.#memory;
    if (head >= size) {
      return this.#fail(
        "2.7.5/D1",
        `Available ring slot ${slot} names descriptor ${head}, beyond the queue size ${size}`,
        { slot, head, size },
      );
    }
    let readable: BufferSegment[] | null = null;
    let writable: BufferSegment[] | null = null;
    let readableLength = 0;
    let writableLength = 0;
    let count = 0;
    let table = this.#desc;
    let tableSize = size;
    let indirect = false;
    let i = head;
    let walked = 0; // descriptors visited in the current table
    for (;;) {
      if (++walked > tableSize) {
        // Only tableSize distinct descriptors exist: one more means a loop
        // (which §2.7.5.2/1 also rules out) or a chain over the limit.
        return this.#fail(
          "2.7.5.3.1/3",
          indirect
            ? `Chain at head ${head} loops inside its indirect table of ${tableSize} entries`
            : `Chain at head ${head} is longer than the queue size ${size}: it loops`,
          { head, descriptors: walked - 1, limit: tableSize, indirect },
        );
      }
      count++;
      const at = table + descOffset(i);
      const addr = memory.readU64Number(at + VIRTQ_DESC_ADDR_OFFSET);
      const len = memory.readU32(at + VIRTQ_DESC_LEN_OFFSET);
      const flags = memory.readU16(at + VIRTQ_DESC_FLAGS_OFFSET);
      const next = memory.readU16(at + VIRTQ_DESC_NEXT_OFFSET);

      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        if (indirect) {
          return this.#fail(
            "2.7.5.3.1/2",
            `Indirect table entry ${i} of chain ${head} points to another indirect table`,
            { head, entry: i, flags },
          );
        }
        if (!this.#indirect) {
          return this.#fail(
            "2.7.5.3.1/1",
            `Descriptor ${i} has VIRTQ_DESC_F_INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated`,
            { head, desc: i, flags },
          );
        }
        if ((flags & VIRTQ_DESC_F_NEXT) !== 0) {
          return this.#fail(
            "2.7.5.3.1/4",
            `Descriptor ${i} has both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT`,
            { head, desc: i, flags },
          );
        }
        if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) {
          return this.#fail(
            "2.7.5.3/D1",
            `Indirect table of descriptor ${i} is ${len} bytes long, not a non-zero multiple of 16`,
            { head, desc: i, len },
          );
        }
        const entries = len / VIRTQ_DESC_SIZE;
        if (entries > size) {
          return this.#fail(
            "2.7.5.3.1/3",
            `Indirect table of descriptor ${i} holds ${entries} entries, more than the queue ` +
              `size ${size}`,
            { head, desc: i, entries, size },
          );
        }
        if (!memory.contains(addr, len)) {
          return this.#fail(
            "2.7.5/D2",
            `Indirect table of ${len} bytes at ${hexAddress(addr)} (descriptor ${i}) is not ` +
              "inside guest RAM",
            { head, desc: i, addr, len },
          );
        }
        // §2.7.5.3.2/1: the WRITE flag of this descriptor means nothing.
        // NEXT is clear (checked above), so the table ends the chain.
        indirect = true;
        table = addr;
        tableSize = entries;
        i = 0;
        walked = 0;
        continue;
      }

      if (len === 0) {
        return this.#fail(
          "2.7.5/D3",
          `Descriptor ${i} of chain ${head} has length 0`,
          { head, desc: i, indirect },
        );
      }
      if (readableLength + writableLength + len > MAX_CHAIN_BYTES) {
        return this.#fail(
          "2.7.5.2/1",
          `Chain at head ${head} is longer than 2^32 bytes in total`,
          { head, bytes: readableLength + writableLength + len },
        );
      }
      if ((flags & VIRTQ_DESC_F_WRITE) !== 0) {
        (writable ??= []).push({ addr, len });
        writableLength += len;
      } else {
        if (writableLength > 0) {
          return this.#fail(
            "2.7.4.2/1",
            `Descriptor ${i} of chain ${head} is device-readable but follows a device-writable one`,
            { head, desc: i, indirect },
          );
        }
        (readable ??= []).push({ addr, len });
        readableLength += len;
      }
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      if (next >= tableSize) {
        return this.#fail(
          "2.7.5/D1",
          indirect
            ? `Indirect table entry ${i} of chain ${head} has next ${next}, beyond the table's ` +
              `${tableSize} entries`
            : `Descriptor ${i} of chain ${head} has next ${next}, beyond the queue size ${size}`,
          { head, desc: i, next, limit: tableSize, indirect },
        );
      }
      i = next;
    }

    if (readable !== null && !this.#inRam(readable, head)) return null;
    if (writable !== null && !this.#inRam(writable, head)) return null;
    return {
      head,
      readable: readable ?? NO_SEGMENTS,
      writable: writable ?? NO_SEGMENTS,
      readableLength,
      writableLength,
      descriptorCount: count,
      indirect,
    };
  }

  #inRam(segments: readonly BufferSegment[], head: number): boolean {
    for (let k = 0; k < segments.length; k++) {
      const { addr, len } = segments[k];
      if (!this.#memory.contains(addr, len)) {
        this.#fail(
          "2.7.5/D2",
          `Buffer of ${len} byte(s) at ${
            hexAddress(addr)
          } in chain ${head} is not inside guest RAM`,
          { head, addr, len },
        );
        return false;
      }
    }
    return true;
  }

  #checkAvailFlags(flags: number): void {
    const ok = this.#eventIdx ? flags === 0 : (flags & ~VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    if (ok) {
      this.#lastBadAvailFlags = -1;
      return;
    }
    if (flags === this.#lastBadAvailFlags) return; // reported already
    this.#lastBadAvailFlags = flags;
    if (this.#eventIdx) {
      this.#reporter.report(
        "2.7.7.1/2",
        `Available ring flags are 0x${
          flags.toString(16)
        } although VIRTIO_F_EVENT_IDX was negotiated`,
        { flags },
        "logged; the device ignores flags and follows used_event",
      );
    } else {
      this.#reporter.report(
        "2.7.7.1/1",
        `Available ring flags are 0x${flags.toString(16)}; only 0 and 1 are allowed`,
        { flags },
        "logged; only VIRTQ_AVAIL_F_NO_INTERRUPT is honoured",
      );
    }
  }

  /** Turns a failed access to a ring or descriptor table into a violation; rethrows anything else. */
  #ringAccessFailed(e: unknown): void {
    if (!(e instanceof GuestMemoryError)) throw e;
    const part = this.#partAt(e.address);
    this.#fail(
      "2.7.5/D2",
      `${part} is not inside guest RAM: access of ${e.length} byte(s) at ` +
        `${hexAddress(e.address)} failed`,
      {
        address: e.address,
        length: e.length,
        descAddr: this.#desc,
        availAddr: this.#avail,
        usedAddr: this.#used,
      },
    );
  }

  #partAt(address: number): string {
    const size = this.size;
    const within = (start: number, bytes: number) => address >= start && address < start + bytes;
    if (within(this.#desc, descTableSize(size))) return "Descriptor table";
    if (within(this.#avail, availRingSize(size, true))) return "Available ring";
    if (within(this.#used, usedRingSize(size, true))) return "Used ring";
    return "Virtqueue part";
  }

  #fail(id: RequirementId, message: string, values: Record<string, ViolationValue>): null {
    let violation: Violation;
    try {
      violation = this.#reporter.report(id, message, values, BROKEN_ACTION);
    } catch (e) {
      if (e instanceof ConformanceError) this.#break(e.violation);
      throw e;
    }
    this.#break(violation);
    return null;
  }

  #break(violation: Violation): void {
    if (this.#broken) return;
    this.#broken = violation;
    this.#onBroken(violation);
  }
}

/** Builds a {@linkcode SplitQueueDevice}; the transport calls it when a queue goes live. */
export const splitQueueDeviceFactory: DeviceQueueFactory = (
  config: SplitQueueConfig,
  onBroken: (violation: Violation) => void,
): SplitQueueDevice => new SplitQueueDevice(config, onBroken);
