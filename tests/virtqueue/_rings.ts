// Fixtures for the ring-part tests: a driver ring and a device ring over the
// same guest memory, built at any starting index, and a memory that records
// every store and load made through its accessors.

import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog, type Violation } from "../../conformance/log.ts";
import { createSplitDriverRing, type SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import { createSplitDeviceRing, type SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import { allocateQueueAreas } from "../../virtqueue/driver/areas.ts";
import type { BufferSegment } from "../../virtqueue/types.ts";

export const BASE = 0x4000_0000;
export const RAM = 1 << 20;

/** One access made through a {@linkcode RecordingMemory}'s accessors. */
export interface Access {
  readonly op: "load" | "store";
  readonly width: number;
  readonly address: number;
  readonly value: number | bigint;
}

/**
 * Guest memory that records every load and store made through its accessor
 * methods, the way a grader's SnoopingMemory does.
 */
export class RecordingMemory extends GuestMemory {
  readonly log: Access[] = [];
  recording = true;

  #note(op: Access["op"], width: number, address: number, value: number | bigint): void {
    if (this.recording) this.log.push({ op, width, address, value });
  }

  override readU16(address: number): number {
    const v = super.readU16(address);
    this.#note("load", 2, address, v);
    return v;
  }
  override readU32(address: number): number {
    const v = super.readU32(address);
    this.#note("load", 4, address, v);
    return v;
  }
  override readU64Number(address: number): number {
    const v = super.readU64Number(address);
    this.#note("load", 8, address, v);
    return v;
  }
  override writeU16(address: number, value: number): void {
    this.#note("store", 2, address, value & 0xffff);
    super.writeU16(address, value);
  }
  override writeU32(address: number, value: number): void {
    this.#note("store", 4, address, value >>> 0);
    super.writeU32(address, value);
  }
  override writeU64(address: number, value: number | bigint): void {
    this.#note("store", 8, address, value);
    super.writeU64(address, value);
  }

  /** The stores recorded, as `"+offset=value"` relative to `base`, and clears the log. */
  takeStores(base: number): string[] {
    const out = this.log.filter((a) => a.op === "store").map((a) =>
      `+${(a.address - base).toString(16)}=${a.value}`
    );
    this.log.length = 0;
    return out;
  }
}

/** Options for {@linkcode ringPair}. */
export interface RingPairOptions {
  size?: number;
  eventIdx?: boolean;
  indirect?: boolean;
  strict?: boolean;
  /** Start both rings at this index (driver avail idx and last used, device last avail and used idx). */
  startIdx?: number;
  /** Record accesses (a {@linkcode RecordingMemory}). */
  record?: boolean;
}

/** A driver ring and a device ring sharing one queue's areas, with a log and data buffers. */
export interface RingPair {
  memory: GuestMemory;
  recording: RecordingMemory | null;
  allocator: GuestAllocator;
  log: ConformanceLog;
  driver: SplitDriverRing<string>;
  device: SplitDeviceRing;
  broken: Violation[];
  /** A fresh data buffer of `len` bytes. */
  buf(len: number): BufferSegment;
}

export function ringPair(options: RingPairOptions = {}): RingPair {
  const recording = options.record ? new RecordingMemory(RAM, { base: BASE }) : null;
  const memory = recording ?? new GuestMemory(RAM, { base: BASE });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog({ strict: options.strict ?? false });
  const size = options.size ?? 8;
  const areas = allocateQueueAreas(allocator, size);
  const config = {
    memory,
    index: 0,
    size,
    eventIdx: options.eventIdx ?? false,
    indirect: options.indirect ?? false,
    ...areas,
  };
  const driver = createSplitDriverRing<string>(
    { ...config, reporter: log.scoped("driver") },
    { startIdx: options.startIdx },
  );
  const broken: Violation[] = [];
  const device = createSplitDeviceRing(
    { ...config, reporter: log.scoped("device") },
    { startIdx: options.startIdx, onBroken: (v) => broken.push(v) },
  );
  if (recording) recording.log.length = 0;
  return {
    memory,
    recording,
    allocator,
    log,
    driver,
    device,
    broken,
    buf: (len) => ({ addr: allocator.alloc(len, 8), len }),
  };
}
