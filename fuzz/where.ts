/**
 * Where a fuzz run is, in a `SharedArrayBuffer`: the worker running the
 * engine writes each step's place ({@linkcode FuzzWhere}) before the step
 * runs, and the supervisor reads it when a step does not finish in time. A
 * worker stuck in a loop cannot post a message, but what it wrote before the
 * step stays readable. A counter, bumped last with `Atomics`, says that a
 * step began.
 *
 * Layout: 9 `Int32` (counter, target index in {@linkcode FUZZ_TARGETS},
 * episode, seed, step, target steps done, episode steps, op length, class
 * length or -1), then the op's UTF-8 bytes at {@linkcode OP_AT} and the
 * class's at {@linkcode CLASS_AT}, each cut to {@linkcode TEXT_BYTES}.
 *
 * @module
 */

import type { FuzzWhere } from "./engine.ts";
import { FUZZ_TARGETS } from "./types.ts";

/** Bytes of a where-buffer. */
export const WHERE_BYTES = 64 + 2 * 224;
const OP_AT = 64;
const CLASS_AT = 64 + 224;
const TEXT_BYTES = 224;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A fresh where-buffer, nothing written (counter 0). */
export function whereBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(WHERE_BYTES);
}

/**
 * Writes a step's place, then bumps the counter.
 *
 * @param buffer A {@linkcode whereBuffer}.
 * @param where The step about to run.
 */
export function writeWhere(buffer: SharedArrayBuffer, where: FuzzWhere): void {
  const header = new Int32Array(buffer, 0, 9);
  const bytes = new Uint8Array(buffer);
  header[1] = FUZZ_TARGETS.indexOf(where.target);
  header[2] = where.episode;
  header[3] = where.seed | 0;
  header[4] = where.step;
  header[5] = where.targetOps;
  header[6] = where.episodeSteps;
  header[7] = encoder.encodeInto(where.op, bytes.subarray(OP_AT, OP_AT + TEXT_BYTES)).written;
  header[8] = where.caseClass === undefined
    ? -1
    : encoder.encodeInto(where.caseClass, bytes.subarray(CLASS_AT, CLASS_AT + TEXT_BYTES)).written;
  Atomics.add(header, 0, 1);
}

/**
 * The steps begun so far (0 before the first).
 *
 * @param buffer A {@linkcode whereBuffer}.
 */
export function stepsBegun(buffer: SharedArrayBuffer): number {
  return Atomics.load(new Int32Array(buffer, 0, 1), 0);
}

/**
 * The place last written, or `null` before the first step.
 *
 * @param buffer A {@linkcode whereBuffer}.
 */
export function readWhere(buffer: SharedArrayBuffer): FuzzWhere | null {
  if (stepsBegun(buffer) === 0) return null;
  const header = new Int32Array(buffer, 0, 9);
  const bytes = new Uint8Array(buffer);
  const text = (at: number, n: number) => decoder.decode(bytes.slice(at, at + n));
  return {
    target: FUZZ_TARGETS[header[1]],
    episode: header[2],
    seed: header[3] >>> 0,
    step: header[4],
    op: text(OP_AT, header[7]),
    ...(header[8] >= 0 ? { caseClass: text(CLASS_AT, header[8]) } : {}),
    targetOps: header[5],
    episodeSteps: header[6],
  };
}
