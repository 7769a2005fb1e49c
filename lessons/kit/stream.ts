/**
 * Chains as byte streams, for graders of device code that reads a chain's
 * device-readable buffers or fills its device-writable ones: the same bytes
 * cut into buffers every way a driver may cut them (a 16-byte header in one
 * piece, 1 + 15, 1 + 7 + 8, sixteen single bytes...), laid out in a small
 * guest memory with gaps between some buffers and none between others, the
 * rest of RAM a known background, so that a part that reads or writes one
 * byte outside its buffers, or only the first buffer (Cloud Hypervisor PR
 * #7802), shows at once.
 *
 * 2.7.4.1/1: the device must not assume any particular arrangement of
 * descriptors; 2.7.5.1/1: it never writes a device-readable buffer, and
 * the buffers around a writable one are exactly that.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { GuestMemory, hexAddress } from "../../memory/guest_memory.ts";
import { readChain, writeChain } from "../../virtqueue/chain.ts";
import type { BufferSegment } from "../../virtqueue/types.ts";
import { outcome } from "./format.ts";
import { RING_RAM_BASE } from "./ring.ts";
import { attempt, type Outcome, type Subject } from "./rules.ts";

/** Ways to cut a stream into buffers: 16-byte headers, and 600 bytes of data. */
export const STREAM_SPLITS: readonly (readonly number[])[] = Object.freeze([
  [16],
  [1, 15],
  [15, 1],
  [8, 8],
  [1, 7, 8],
  [4, 4, 4, 4],
  Array(16).fill(1),
  [3, 5, 2, 6],
  [512, 88],
  [1, 599],
  [300, 1, 299],
]);

/** The background byte of a stream fixture's RAM outside its buffers. */
export const STREAM_BACKGROUND = 0x5a;

/**
 * The byte at position `i` of a fixture's stream (what its buffers hold to
 * begin with).
 *
 * @param i Position in the stream.
 */
export function streamByte(i: number): number {
  return (i * 7 + 3) & 0xff;
}

/** Buffers holding a stream, in their own memory. */
export interface StreamFixture {
  /** Guest RAM: 8 KiB at {@linkcode RING_RAM_BASE}, {@linkcode STREAM_BACKGROUND} outside the buffers. */
  readonly memory: GuestMemory;
  /** The buffers, in stream order. */
  readonly segments: readonly BufferSegment[];
  /** The stream's length in bytes. */
  readonly length: number;
  /** The stream's bytes as the buffers hold them now, in order. */
  stream(): Uint8Array;
  /** Addresses outside the buffers whose byte is no longer the background, in order. */
  outside(): number[];
  /** Addresses whose byte changed since the fixture was built (buffers included), in order. */
  changed(): number[];
}

/**
 * Lays out buffers of the given lengths: the first at 0x100 into RAM, each
 * next one after a gap of a few bytes, except that every third buffer abuts
 * the one after it. The buffers hold {@linkcode streamByte} of their stream
 * position.
 *
 * @param split The buffers' lengths, in stream order (each 1 to 2048).
 * @returns The fixture.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { streamFixture } from "./stream.ts";
 *
 * const f = streamFixture([1, 7, 8]);
 * assert.equal(f.length, 16);
 * f.memory.writeU8(f.segments[0].addr - 1, 0); // one byte before the first buffer
 * assert.equal(f.outside().length, 1);
 * ```
 */
export function streamFixture(split: readonly number[]): StreamFixture {
  const memory = new GuestMemory(0x2000, { base: RING_RAM_BASE });
  const ram = memory.bytes(memory.base, memory.size);
  ram.fill(STREAM_BACKGROUND);
  let at = 0x100;
  let i = 0;
  const segments = split.map((len, k) => {
    const s = { addr: memory.base + at, len };
    for (let b = 0; b < len; b++) ram[at + b] = streamByte(i++);
    at += len + (k % 3 === 2 ? 0 : 5 + k);
    return s;
  });
  const inside = new Uint8Array(memory.size);
  for (const s of segments) inside.fill(1, s.addr - memory.base, s.addr - memory.base + s.len);
  const before = ram.slice();
  const length = i;
  return {
    memory,
    segments,
    length,
    stream() {
      const out = new Uint8Array(length);
      let k = 0;
      for (const s of segments) out.set(memory.bytes(s.addr, s.len), (k += s.len) - s.len);
      return out;
    },
    outside() {
      const out: number[] = [];
      for (let a = 0; a < ram.length; a++) {
        if (!inside[a] && ram[a] !== STREAM_BACKGROUND) out.push(memory.base + a);
      }
      return out;
    },
    changed() {
      const out: number[] = [];
      for (let a = 0; a < ram.length; a++) if (ram[a] !== before[a]) out.push(memory.base + a);
      return out;
    },
  };
}

/**
 * Offsets worth trying in a stream of `length` bytes: the start, one in,
 * the edges of 8- and 16-byte headers, the last byte, the end and one past.
 *
 * @param length The stream's length.
 */
export function streamOffsets(length: number): number[] {
  return [...new Set([0, 1, 7, 8, 16, 512, length - 1, length, length + 1])]
    .filter((o) => o >= 0 && o <= length + 1).sort((a, b) => a - b);
}

/** A stream part's signature: `readChain` and `writeChain` of `virtqueue/chain.ts`. */
export type StreamPart = (
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  bytes: Uint8Array,
  offset?: number,
) => number;

/** The two directions of a stream: a device reading a chain's buffers, or writing them. */
export interface StreamParts {
  /** Copies stream bytes out into `bytes`, from `offset` on; returns how many. */
  readonly read: StreamPart;
  /** Copies `bytes` into the stream from `offset` on; returns how many. */
  readonly write: StreamPart;
}

/** A stream case: which direction, the buffers' lengths, the offset, and the bytes asked for. */
export type StreamCase = [
  mode: "read" | "write",
  split: readonly number[],
  offset: number,
  len: number,
];

/** What a stream part did on one case. */
export interface StreamRun {
  /** What it returned, or the name of what it threw. */
  readonly outcome: Outcome<unknown>;
  /** Whether what it threw is a `RangeError`. */
  readonly rangeError: boolean;
  /** Reading: the destination afterwards (it starts as 0xee bytes). */
  readonly dest: readonly number[];
  /** Writing: the stream afterwards (the source is `(13 k + 1) & 0xff`). */
  readonly stream: readonly number[];
  /** How many bytes of RAM changed. */
  readonly changed: number;
  /** The first addresses outside the buffers that changed. */
  readonly outside: readonly string[];
}

/**
 * Runs a stream part on a fresh {@linkcode streamFixture} and records what it
 * returned and what it changed.
 *
 * @param parts The two directions.
 * @param c The case.
 */
export function runStream(parts: StreamParts, c: StreamCase): StreamRun {
  const [mode, split, offset, len] = c;
  const f = streamFixture(split);
  const data = Uint8Array.from({ length: len }, (_, k) => (mode === "write" ? k * 13 + 1 : 0xee));
  const outcome = attempt(() => parts[mode](f.memory, f.segments, data, offset));
  return {
    outcome: "threw" in outcome ? { threw: (outcome.threw as Error)?.name } : outcome,
    rangeError: "threw" in outcome && outcome.threw instanceof RangeError,
    dest: mode === "read" ? [...data] : [],
    stream: mode === "write" ? [...f.stream()] : [],
    changed: f.changed().length,
    outside: f.outside().slice(0, 3).map((a) => hexAddress(a)),
  };
}

function bytes(list: readonly number[]): string {
  return list.length > 20 ? `[${list.slice(0, 20).join(", ")}, ...]` : `[${list.join(", ")}]`;
}

/**
 * The subject of stream rows: the learner's read and write directions (as
 * `parts(impl)` gives them) against the library's `readChain` and
 * `writeChain`, on {@linkcode StreamCase}s. Runs are deterministic, so each
 * case runs once per implementation whatever the number of rows.
 *
 * @param parts The learner's two directions, from their module.
 * @param names How the two are called in messages (default `readChain`, `writeChain`).
 */
export function streamSubject<I>(
  parts: (impl: I) => StreamParts,
  names: { readonly read: string; readonly write: string } = {
    read: "readChain",
    write: "writeChain",
  },
): Subject<I, StreamCase, StreamRun> {
  return {
    run: (impl, ...c) => runStream(parts(impl), c),
    reference: (...c) => runStream({ read: readChain, write: writeChain }, c),
    key: (...c) => JSON.stringify(c),
    show: (mode, split, offset, len) =>
      `${names[mode]}(memory, buffers of [${split}] bytes, ${len} bytes, offset ${offset})`,
    result: (o) =>
      [
        outcome(o.outcome),
        o.dest.length ? `dest ${bytes(o.dest)}` : "",
        o.stream.length ? `the stream now ${bytes(o.stream)}` : "",
        `${o.changed} byte(s) of RAM changed${o.outside.length ? `, at ${o.outside} outside` : ""}`,
      ].filter(Boolean).join("; "),
  };
}

/**
 * Every {@linkcode STREAM_SPLITS} cut of a stream, at every
 * {@linkcode streamOffsets} offset, for 0, 1, 8, all and more than all of
 * its bytes: 400-odd cases.
 *
 * @param mode Reading or writing.
 */
export function streamCases(mode: "read" | "write"): StreamCase[] {
  return STREAM_SPLITS.flatMap((split) => {
    const total = split.reduce((a, b) => a + b, 0);
    return streamOffsets(total).flatMap((o) =>
      [...new Set([0, 1, 8, total, total + 9])].map((l) => [mode, split, o, l] as StreamCase)
    );
  });
}
