/**
 * A device model's buffers and a driver's, as graders observe them: a device
 * part that fills a chain's writable buffers or takes its readable ones
 * through the queue's stream part (counted, so a part that copies around it
 * shows), on chains cut every way {@linkcode STREAM_SPLITS} cuts them; a
 * driver part that posts buffers on a real queue, read back by a reference
 * device half (what it found, which token came back, what was published); a
 * driver part that takes the bytes out of a returned buffer under a used
 * `len` no device should be trusted with (CVE-2021-38160), on memory that
 * sees every load; and a configuration space that changes in the middle of
 * the first read, under a generation counter.
 *
 * Each runner returns a plain observation, and each `...Subject` makes rule
 * rows of it (`ruleFor(subject)`), the learner's part picked from their
 * module, the reference given.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { ConformanceLog, type ConformanceReporter } from "../../conformance/log.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import { readChain, writeChain } from "../../virtqueue/chain.ts";
import type {
  BufferSegment,
  ChainStreamParts,
  DescriptorChain,
  DriverQueue,
} from "../../virtqueue/types.ts";
import type { TransmitCursor } from "../../devices/console/transmit.ts";
import type { ConsoleConfigReader } from "../../devices/console/config.ts";
import * as show from "./format.ts";
import { ringFixture } from "./ring.ts";
import { attempt, type Outcome, type Subject } from "./rules.ts";
import { SnoopingMemory } from "./snoop.ts";
import { STREAM_SPLITS, streamFixture } from "./stream.ts";

const sum = (s: readonly BufferSegment[]) => s.reduce((n, b) => n + b.len, 0);
const ids = (log: ConformanceLog) => log.entries.map((v) => v.id);

/** A chain as a popped one looks, of the given buffers (head 3). */
export function chainOf(
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
): DescriptorChain {
  return {
    head: 3,
    descriptorCount: readable.length + writable.length,
    indirect: false,
    readable,
    writable,
    readableLength: sum(readable),
    writableLength: sum(writable),
  };
}

/** Bytes, shortened past 16. */
export function byteList(b: ArrayLike<number>): string {
  return b.length > 16
    ? `[${Array.from(b).slice(0, 16)}, ... ${b.length} bytes]`
    : `[${Array.from(b)}]`;
}

/** An outcome, a thrown error by its name. */
export function shownOutcome(o: Outcome<unknown>): string {
  return "threw" in o
    ? show.outcome({ threw: (o.threw as Error)?.name ?? o.threw })
    : show.outcome(o);
}

// ------------------------------------------------------------------ filling

/** A part that fills a chain's writable buffers with input (a receive chain's, say). */
export type FillPart = (
  memory: GuestMemory,
  chain: DescriptorChain,
  input: Uint8Array,
  reporter: ConformanceReporter,
  write: ChainStreamParts["writeChain"],
) => number;

/** A fill case: the buffers' lengths, how many of them come first as device-readable, input bytes. */
export type FillCase = [split: readonly number[], readable: number, input: number];

/** What a fill did. */
export interface Fill {
  readonly outcome: Outcome<unknown>;
  /** The chain's bytes afterwards, readable ones as -1. */
  readonly stream: readonly number[];
  /** Bytes changed outside the buffers. */
  readonly outside: number;
  /** Bytes the stream part wrote. */
  readonly copied: number;
  readonly reported: readonly string[];
}

/** Runs a fill part on a {@linkcode streamFixture}; the input is `(13 k + 1) & 0xff`. */
export function runFill(part: FillPart, [split, readable, input]: FillCase): Fill {
  const f = streamFixture(split);
  const log = new ConformanceLog();
  const bytes = Uint8Array.from({ length: input }, (_, k) => (k * 13 + 1) & 0xff);
  let copied = 0;
  const write: typeof writeChain = (m, s, src, at) => {
    const n = writeChain(m, s, src, at);
    return (copied += n, n);
  };
  const chain = chainOf(f.segments.slice(0, readable), f.segments.slice(readable));
  const got = attempt(() => part(f.memory, chain, bytes, log.scoped("device"), write));
  const stream = [...f.stream()].map((b, i) => (i < chain.readableLength ? -1 : b));
  return { outcome: got, stream, outside: f.outside().length, copied, reported: ids(log) };
}

/** Writable-only chains of every split, input of 1, all but one, all, and more than all bytes. */
export const FILL_CASES: readonly FillCase[] = STREAM_SPLITS.flatMap((s) => {
  const total = s.reduce((a, b) => a + b, 0);
  return [...new Set([1, total - 1, total, total + 9])].map((n) => [s, 0, n] as FillCase);
});

/** Chains with device-readable buffers first. */
export const REFUSED_FILL_CASES: readonly FillCase[] = [
  [[16], 1, 4],
  [[1, 15], 1, 16],
  [[8, 8], 1, 3],
  [[4, 4, 4, 4], 3, 4],
];

/**
 * Rows over a fill part (pure: each case runs once per implementation).
 *
 * @param pick The learner's part.
 * @param reference The reference part.
 * @param name How the part is called in messages.
 */
export function fillSubject<I>(
  pick: (impl: I) => FillPart,
  reference: FillPart,
  name: string,
): Subject<I, FillCase, Fill> {
  return {
    run: (impl, ...c) => runFill(pick(impl), c),
    reference: (...c) => runFill(reference, c),
    key: (...c) => JSON.stringify(c),
    show: (split, readable, input) =>
      `${name}(memory, ${readable ? `${readable} device-readable then ` : ""}` +
      `device-writable buffers of [${split.slice(readable)}] bytes, ${input} byte(s) of input)`,
    result: (r) =>
      `${shownOutcome(r.outcome)}; the writable bytes now ${
        byteList(r.stream.filter((b) => b >= 0))
      }, ${r.outside ? `${r.outside} byte(s) outside them changed, ` : ""}${r.copied} ` +
      `byte(s) copied through write, reported [${r.reported}]`,
  };
}

// ------------------------------------------------------------------ taking

/** A part that takes a chain's readable bytes from a cursor (a transmit chain's, say). */
export type TakePart = (
  memory: GuestMemory,
  chain: DescriptorChain,
  cursor: TransmitCursor,
  dest: Uint8Array,
  reporter: ConformanceReporter,
  read: ChainStreamParts["readChain"],
) => number;

/** A take case: buffers' lengths, how many are device-writable (last), the chunk size. */
export type TakeCase = [split: readonly number[], writable: number, chunk: number];

/** What a chain taken to its end did. */
export interface Take {
  /** The first call's, with an empty `dest` and a fresh cursor. */
  readonly first: Outcome<unknown>;
  /** Then each call's, with `chunk`-byte dests, until one returned 0 or less. */
  readonly returns: readonly unknown[];
  readonly bytes: readonly number[];
  /** After each of those calls, the stream offset the cursor names. */
  readonly at: readonly number[];
  /** Bytes the stream part copied. */
  readonly copied: number;
  /** Bytes of RAM changed. */
  readonly changed: number;
  readonly reported: readonly string[];
}

/** Takes a chain as a device streams it: a look with an empty dest, then chunk after chunk. */
export function runTake(part: TakePart, [split, writable, chunk]: TakeCase): Take {
  const f = streamFixture(split);
  const log = new ConformanceLog();
  const readable = f.segments.slice(0, split.length - writable);
  const chain = chainOf(readable, f.segments.slice(split.length - writable));
  let copied = 0;
  const read: typeof readChain = (m, s, d, at) => {
    const n = readChain(m, s, d, at);
    return (copied += n, n);
  };
  const cursor = { segment: 0, offset: 0 };
  const reporter = log.scoped("device");
  const offset = () => sum(readable.slice(0, cursor.segment)) + cursor.offset;
  const first = attempt(() => part(f.memory, chain, cursor, new Uint8Array(0), reporter, read));
  const returns: unknown[] = [], bytes: number[] = [], at: number[] = [];
  if ("returned" in first && first.returned === 0) {
    for (let call = 0; call < f.length + 2; call++) {
      const dest = new Uint8Array(chunk);
      const n = part(f.memory, chain, cursor, dest, reporter, read);
      returns.push(n);
      at.push(offset());
      if (typeof n !== "number" || n <= 0) break;
      bytes.push(...dest.subarray(0, n));
    }
  }
  return { first, returns, bytes, at, copied, changed: f.changed().length, reported: ids(log) };
}

/** Readable-only chains of every split, chunks of 1, 7, 16, 600 and 4096 bytes. */
export const TAKE_CASES: readonly TakeCase[] = STREAM_SPLITS.flatMap((s) =>
  [1, 7, 16, 600, 4096].map((c) => [s, 0, c] as TakeCase)
);

/** Chains with device-writable buffers last. */
export const REFUSED_TAKE_CASES: readonly TakeCase[] = [
  [[16], 1, 16],
  [[1, 15], 1, 64],
  [[8, 8], 1, 4],
  [[1, 7, 8], 2, 8],
];

/**
 * Rows over a take part (pure: each case runs once per implementation).
 *
 * @param pick The learner's part.
 * @param reference The reference part.
 * @param name How the part is called in messages.
 */
export function takeSubject<I>(
  pick: (impl: I) => TakePart,
  reference: TakePart,
  name: string,
): Subject<I, TakeCase, Take> {
  return {
    run: (impl, ...c) => runTake(pick(impl), c),
    reference: (...c) => runTake(reference, c),
    key: (...c) => JSON.stringify(c),
    show: (split, writable, chunk) =>
      `${name} on device-readable buffers of [${split.slice(0, split.length - writable)}]` +
      `${writable ? ` then ${writable} device-writable` : ""} bytes: first with an empty ` +
      `dest, then with ${chunk}-byte dests until it returns 0`,
    result: (r) =>
      `${shownOutcome(r.first)} for the look, then ${
        r.returns.length ? `[${r.returns}]` : "no call"
      }; bytes taken ${byteList(r.bytes)}, the cursor at stream offsets [${r.at}], ` +
      `${r.copied} byte(s) copied through read, ${r.changed} byte(s) of RAM changed, ` +
      `reported [${r.reported}]`,
  };
}

// ------------------------------------------------------------------ posting

/** Posts buffers (guest addresses, each `64 + k` bytes) on a driver queue; answers what it returns. */
export type PostPart = (
  queue: DriverQueue<number>,
  buffers: number[],
  driverOk: boolean,
) => unknown;

/** A posting case: queue size, start index, buffers, DRIVER_OK, device asks for none, event idx. */
export type PostCase = [
  size: number,
  start: number,
  buffers: number,
  driverOk: boolean,
  noNotify: boolean,
  eventIdx: boolean,
];

/** What a reference device half found after a post (and the driver's `kickPrepare`, if asked). */
export interface Post {
  readonly outcome: Outcome<unknown>;
  /** Each chain the device popped: its buffers, and the token the driver got back for it. */
  readonly chains: readonly string[];
  /** Entries published by the part itself (the available idx moved before any kickPrepare of ours). */
  readonly visible: number;
}

/**
 * Posts on a fresh {@linkcode ringFixture}, then (with `publish`) calls
 * `kickPrepare` as a caller would, lets the device pop everything and return
 * it with `len` 0, and reaps each token.
 */
export function runPost(part: PostPart, c: PostCase, publish: boolean): Post {
  const [size, start, n, ok, quiet, eventIdx] = c;
  const f = ringFixture<number>({ size, startIdx: start, eventIdx });
  if (quiet) f.deviceQueue.disableNotifications();
  const buffers = Array.from({ length: n }, (_, k) => f.buffer(64 + k).addr);
  const got = attempt(() => part(f.driverQueue, buffers, ok));
  const visible = (f.availIdx() - start) & 0xffff;
  if (publish) f.driverQueue.kickPrepare();
  const chains: string[] = [];
  const line = (s: readonly BufferSegment[]) =>
    s.map((b) => `${show.guestAddress(b.addr)}+${b.len}`);
  for (let popped = f.deviceQueue.pop(); popped; popped = f.deviceQueue.pop()) {
    f.deviceQueue.push(popped.head, 0);
    const token = f.driverQueue.getBuf()?.token;
    chains.push(
      `readable [${line(popped.readable)}] writable [${line(popped.writable)}] token ${
        token === undefined ? "none" : show.guestAddress(token)
      }`,
    );
  }
  return { outcome: got, chains, visible };
}

/** Empty, one, some and all of a queue; near the wrap; suppressed; event idx; one too many. */
export const POST_CASES: readonly PostCase[] = [
  [8, 0, 1, false, false, false],
  [8, 0, 4, false, false, false],
  [8, 0, 4, true, false, false],
  [8, 0, 0, true, false, false],
  [4, 0xfffe, 3, true, false, false],
  [8, 0, 2, true, true, false],
  [8, 0xffff, 2, false, true, false],
  [8, 0, 3, true, false, true],
  [4, 0, 5, true, false, false],
  [16, 0x7fff, 16, true, false, false],
];

/**
 * Rows over a posting part.
 *
 * @param pick The learner's part, as a {@linkcode PostPart}.
 * @param reference The reference, likewise.
 * @param name What the call is, e.g. `"postReceiveBuffers with"`.
 * @param publish Whether the caller publishes after the part (`kickPrepare`).
 */
export function postSubject<I>(
  pick: (impl: I) => PostPart,
  reference: PostPart,
  name: string,
  publish: boolean,
): Subject<I, PostCase, Post> {
  return {
    run: (impl, ...c) => runPost(pick(impl), c, publish),
    reference: (...c) => runPost(reference, c, publish),
    key: (...c) => JSON.stringify(c),
    show: (size, start, n, ok, quiet, ev) =>
      `${name} ${n} buffer(s) on a ${size}-entry queue at avail idx ${show.ringIdx(start)}, ` +
      `DRIVER_OK ${ok ? "set" : "not set"}${
        quiet ? ", the device asking for no notifications" : ""
      }${ev ? ", event idx on" : ""}`,
    result: (r) =>
      `${shownOutcome(r.outcome)}; ${r.visible} published by it; the device found [${
        r.chains.join("; ")
      }]`,
  };
}

// ------------------------------------------------------------------ receiving

/** Takes the bytes out of a returned buffer: `(memory, buffer, size, len, reporter)`. */
export type ReceivePart = (
  memory: GuestMemory,
  buffer: number,
  size: number,
  len: number,
  reporter: ConformanceReporter,
) => Uint8Array;

/** A receive case: the buffer's size and the used `len` the device claims. */
export type ReceiveCase = [size: number, len: number];

/** What taking a returned buffer did. */
export interface Receive {
  readonly threw: Outcome<unknown> | null;
  /** The bytes returned, read after the device has reused the buffer (0xee). */
  readonly bytes: readonly number[];
  /** Loads and views that reached past the first `min(len, size)` bytes. */
  readonly past: number;
  readonly reported: readonly string[];
}

/** Runs a receive part on a {@linkcode SnoopingMemory} whose buffer holds `5 k`, bytes past it too. */
export function runReceive(part: ReceivePart, [size, len]: ReceiveCase): Receive {
  const memory = new SnoopingMemory(0x4000, { base: 0x4000_0000 });
  const buffer = 0x4000_1000;
  memory.quietly(() => memory.write(buffer, Uint8Array.from({ length: 0x3000 }, (_, k) => k * 5)));
  const log = new ConformanceLog();
  const seen = memory.record();
  const got = attempt(() => part(memory, buffer, size, len, log.scoped("driver")));
  memory.record(false);
  const end = buffer + Math.min(len, size);
  const past = seen.filter((a) => a.kind !== "store" && a.address + a.width > end).length;
  memory.quietly(() => memory.fill(buffer, size, 0xee)); // the device reuses the buffer at once
  const bytes = "returned" in got && got.returned instanceof Uint8Array ? [...got.returned] : [];
  return { threw: "threw" in got ? got : null, bytes, past, reported: ids(log) };
}

/** Lengths under, at and over the buffer, up to 0xffffffff. */
export const RECEIVE_CASES: readonly ReceiveCase[] = [
  [64, 0],
  [64, 1],
  [64, 63],
  [64, 64],
  [64, 65],
  [64, 4096],
  [64, 0xffff_ffff],
  [1, 1],
  [1, 2],
  [4096, 4095],
  [4096, 4097],
];

/**
 * Rows over a receive part (pure: each case runs once per implementation).
 *
 * @param pick The learner's part.
 * @param reference The reference part.
 * @param name How the part is called in messages.
 */
export function receiveSubject<I>(
  pick: (impl: I) => ReceivePart,
  reference: ReceivePart,
  name: string,
): Subject<I, ReceiveCase, Receive> {
  return {
    run: (impl, ...c) => runReceive(pick(impl), c),
    reference: (...c) => runReceive(reference, c),
    key: (...c) => c.join(":"),
    show: (size, len) => `${name}(memory, buffer, ${size}, ${len}, reporter)`,
    result: (r) =>
      `${r.threw ? shownOutcome(r.threw) : `returned ${byteList(r.bytes)}`}${
        r.past ? `, after ${r.past} read(s) past len` : ""
      }, reported [${r.reported}]`,
  };
}

// ------------------------------------------------------------------ a resize mid-read

/** A part that reads the console size from a configuration reader. */
export type SizePart = (device: ConsoleConfigReader) => { cols: number; rows: number };

/** Size before, and after the first configuration read (the same: no resize). */
export type ResizeCase = [cols: number, rows: number, toCols: number, toRows: number];

/** What a size read did: its outcome, and each distinct read it made (width, offset, where). */
export interface SizeRead {
  readonly outcome: Outcome<unknown>;
  readonly reads: readonly string[];
}

/**
 * Runs a size reader on a configuration space (`cols` at 0, `rows` at 2)
 * that resizes as its first field is read, bumping the generation, and
 * whose `readConfigConsistent` runs the read again until the generation
 * held (at most 10 times).
 */
export function runSizeRead(part: SizePart, [a, b, c, d]: ResizeCase): SizeRead {
  let size = [a, b], generation = 0, inLoop = 0;
  const reads: string[] = [];
  const device: ConsoleConfigReader = {
    readConfig(offset, width) {
      reads.push(`${width * 8}-bit read at ${offset}${inLoop ? "" : " outside the loop"}`);
      const v = ((size[0] & 0xffff) | (size[1] << 16)) >>> 0;
      if (reads.length === 1 && (a !== c || b !== d)) (size = [c, d], generation++);
      if (offset >= 4) return 0;
      return width === 4 ? v : (v >>> (offset * 8)) & (width === 2 ? 0xffff : 0xff);
    },
    readConfigConsistent<R>(read: () => R): R {
      for (let tries = 0;; tries++) {
        const g = generation;
        inLoop++;
        try {
          const r = read();
          if (g === generation || tries > 8) return r;
        } finally {
          inLoop--;
        }
      }
    },
  };
  return { outcome: attempt(() => part(device)), reads: [...new Set(reads)].sort() };
}

/** No resize, and resizes that change one field or both. */
export const RESIZE_CASES: readonly ResizeCase[] = [
  [80, 25, 80, 25],
  [0x1234, 0x5678, 0x1234, 0x5678],
  [80, 25, 132, 43],
  [65535, 1, 2, 65534],
];

/**
 * Rows over a size reader.
 *
 * @param pick The learner's part.
 * @param reference The reference part.
 */
export function sizeReadSubject<I>(
  pick: (impl: I) => SizePart,
  reference: SizePart,
): Subject<I, ResizeCase, SizeRead> {
  return {
    run: (impl, ...c) => runSizeRead(pick(impl), c),
    reference: (...c) => runSizeRead(reference, c),
    key: (...c) => c.join(","),
    show: (a, b, c, d) =>
      `readConsoleSize on a ${a}x${b} console${
        a !== c || b !== d ? ` resized to ${c}x${d} as the first field is read` : ""
      }`,
    result: (r) => `${shownOutcome(r.outcome)} after ${r.reads.join(", ")}`,
  };
}
