/**
 * Where a driver may put a queue, as data: the queue registers a device
 * finds when the driver writes 1 to `QueueReady` (§4.2.3.2), each case with
 * the rule it is about and the ids a device may fairly report for it (none:
 * the device must take the queue). The refusals are the placement rules of
 * §2.7 and §4.2.2.2 (no Queue Size, one that is not a power of two or above
 * `QueueNumMax`, a part off its alignment, outside RAM or on another part);
 * the accepted cases sit at each rule's edge (an area ending on RAM's last
 * byte, parts that touch, rings aligned to 2 and 4 bytes only, RAM above
 * 4 GiB, a part at address 0, the largest Queue Size), so that a device
 * stricter than the spec fails as surely as a lax one.
 *
 * A case that breaks two rules lists both ids as fair: the order of the
 * checks is the device's own.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { RequirementId } from "../../conformance/requirements.ts";
import type { RuleProblem } from "../../transport/types.ts";
import { every } from "./rules.ts";
import {
  INITIAL_QUEUE_REGISTERS,
  join64,
  type QueueAreaContext,
  type QueueRegisters,
} from "../../transport/queue_registers.ts";

/** What a placement case is about: the rule its refusals break. */
export type PlacementTopic = "num" | "size" | "max" | "align" | "ram" | "overlap";

/** One queue as the driver left its registers, and what a device may answer. */
export interface QueuePlacement {
  /** The rule the case is about. */
  readonly topic: PlacementTopic;
  /** What the case is, in a few words (unique). */
  readonly name: string;
  /** The queue's registers when `QueueReady` is written 1. */
  readonly registers: QueueRegisters;
  /** Queue index, `QueueNumMax`, RAM and whether `VIRTIO_F_EVENT_IDX` was negotiated. */
  readonly context: QueueAreaContext;
  /** The ids a device may report; empty when it must take the queue. */
  readonly fair: readonly RequirementId[];
}

/** Base of the placements' RAM: 1 MiB from here, unless a case says otherwise. */
export const PLACEMENT_RAM_BASE = 0x4000_0000;
const B = PLACEMENT_RAM_BASE;
const E = B + 0x10_0000;
const H = 2 ** 32;
const CONTEXTS: Record<string, Partial<QueueAreaContext>> = {
  "": {},
  big: { ram: { base: B, size: 0x100_0000 }, max: 32768 }, // 16 MiB
  "256": { ram: { base: B, size: 0x100_0000 } },
  max8: { max: 8 },
  high: { ram: { base: H, size: 0x10_0000 } }, // 1 MiB at 4 GiB
  zero: { ram: { base: 0, size: 0x10_0000 } },
  event: { eventIdx: true },
  odd: { ram: { base: B, size: 0x10_0001 } }, // RAM whose end is odd: an area may end 1 byte past
  reset: {},
};
type Address = number | bigint;
/** [topic, case, QueueNum, [table, available ring, used ring], fair ids ("" accepts), context] */
type Row = [PlacementTopic, string, number, Address[], string, string?];
const A = [B + 0x1000, B + 0x2000, B + 0x3000]; // apart
const W = [B, B + 0x10_0000, B + 0x20_0000]; // wide apart, for the largest queues
const T = B + 0x1000; // 8 descriptors: table 128 bytes, avail ring 20 (22), used ring 68 (70)
const ROWS: Row[] = [
  ["num", "QueueNum never written", 0, A, "4.2.3.2/D1"],
  ["num", "QueueNum never written since a queue reset", 0, A, "2.6.1.2.2/1", "reset"],
  ["num", "a 1-descriptor queue", 1, A, ""],
  ["size", "QueueNum 3", 3, W, "2.7/D1", "big"],
  ["size", "QueueNum 100", 100, W, "2.7/D1", "big"],
  ["size", "QueueNum 65536", 65536, W, "2.7/D1 4.2.2.2/9", "big"],
  ["size", "QueueNum 32768, the largest", 32768, W, "", "big"],
  ["max", "QueueNum 512, QueueNumMax 256", 512, W, "4.2.2.2/9", "256"],
  ["max", "QueueNum 16, QueueNumMax 8", 16, A, "4.2.2.2/9", "max8"],
  ["max", "QueueNum 256, QueueNumMax 256", 256, W, "", "256"],
  ["align", "a table 8 bytes off", 8, [T + 8, B + 0x2000, B + 0x3000], "2.7.1/1"],
  ["align", "an available ring at an odd address", 8, [T, B + 0x2001, B + 0x3000], "2.7.1/1"],
  ["align", "a used ring 2 bytes off", 8, [T, B + 0x2000, B + 0x3002], "2.7.1/1"],
  ["align", "parts aligned 16, 2 and 4, no more", 8, [T + 16, B + 0x2002, B + 0x3004], ""],
  ["align", "a table 8 bytes off above 4 GiB", 8, [H + 0x108, H + 0x200, H], "2.7.1/1", "high"],
  ["align", "a table 2 bytes off above 2^53", 8, [2n ** 54n + 2n, B, T], "2.7.1/1 2.7.5/D2"],
  ["ram", "a table below RAM", 8, [B - 0x1000, B + 0x2000, B + 0x3000], "2.7.5/D2"],
  ["ram", "a used ring ending on RAM's last byte", 8, [B, T, E - 68], ""],
  ["ram", "the same, with avail_event 2 bytes more", 8, [B, T, E - 68], "2.7.5/D2", "event"],
  ["ram", "an available ring ending on RAM's last byte", 8, [B, E - 20, T], ""],
  ["ram", "a used ring 4 bytes past RAM", 8, [B, T, E - 64], "2.7.5/D2"],
  ["ram", "an available ring 1 byte past RAM of an odd size", 8, [B, E - 18, T], "2.7.5/D2", "odd"],
  ["ram", "a used ring beyond RAM", 8, [B, T, E + 0x1000], "2.7.5/D2"],
  ["ram", "an available ring 4 GiB above RAM", 8, [B, H + B, T], "2.7.5/D2"],
  ["ram", "a table 2^53 above RAM", 8, [2n ** 53n + BigInt(T), B, B + 0x100], "2.7.5/D2"],
  ["ram", "all three parts above 4 GiB", 8, [H + 0x100, H + 0x200, H], "", "high"],
  ["ram", "the same, high words left 0", 8, [0x100, 0x200, 0], "2.7.5/D2", "high"],
  ["ram", "a table at address 0", 8, [0, 0x1000, 0x2000], "", "zero"],
  ["ram", "a table 16 bytes below 2^64", 8, [2n ** 64n - 16n, 0x1000, 0x2000], "2.7.5/D2", "zero"],
  ["overlap", "three parts back to back", 8, [T, T + 128, T + 148], ""],
  ["overlap", "the same, used_event on the used ring", 8, [T, T + 128, T + 148], "2.7/D2", "event"],
  ["overlap", "a used ring 8 bytes after the available ring", 8, [T, T + 128, T + 136], "2.7/D2"],
  ["overlap", "all three at one address", 8, [T, T, T], "2.7/D2"],
  ["overlap", "a used ring inside the table", 8, [T, T + 0x400, T + 64], "2.7/D2"],
  ["overlap", "an available ring inside the used ring", 8, [T, T + 0x410, T + 0x400], "2.7/D2"],
  ["overlap", "the parts in reverse order, apart", 8, [T + 0x400, T + 0x200, T], ""],
  ["overlap", "all three at one address 8 bytes off", 8, [T + 8, T + 8, T + 8], "2.7.1/1 2.7/D2"],
];

const halves = (a: Address) => [Number(BigInt(a) & 0xffff_ffffn), Number(BigInt(a) >> 32n)];

/** Every placement case, in topic order, each topic's refusals and edges together. */
export const QUEUE_PLACEMENTS: readonly QueuePlacement[] = Object.freeze(
  ROWS.map(([topic, name, num, parts, fair, context = ""]): QueuePlacement => {
    const [[descLow, descHigh], [driverLow, driverHigh], [deviceLow, deviceHigh]] = parts.map(
      halves,
    );
    const registers: QueueRegisters = {
      ...INITIAL_QUEUE_REGISTERS,
      ...{ num, wasReset: context === "reset", descLow, descHigh, driverLow, driverHigh },
      ...{ deviceLow, deviceHigh },
    };
    const base = { queue: 0, max: 256, ram: { base: B, size: E - B }, eventIdx: false };
    return Object.freeze({
      topic,
      name,
      registers: Object.freeze(registers),
      context: Object.freeze({ ...base, ...CONTEXTS[context] }),
      fair: Object.freeze(fair.split(" ").filter(Boolean) as RequirementId[]),
    });
  }),
);

const BY_NAME = new Map(QUEUE_PLACEMENTS.map((p) => [p.name, p]));

/**
 * A placement case by name.
 *
 * @param name The case's name.
 * @throws {RangeError} When no case has that name.
 */
export function placement(name: string): QueuePlacement {
  const found = BY_NAME.get(name);
  if (!found) throw new RangeError(`No queue placement is called "${name}"`);
  return found;
}

/**
 * A case as a failure shows it: `QueueNum 8, areas at 0x40001008, 0x40002000
 * and 0x40003000; QueueNumMax 256, RAM [0x40000000, 0x40100000), eventIdx false`.
 *
 * @param p The case.
 */
export function describePlacement(p: QueuePlacement): string {
  const r = p.registers;
  const c = p.context;
  const at = (low: number, high: number) => `0x${join64(low, high).toString(16)}`;
  return `QueueNum ${r.num}${r.wasReset ? " (after a queue reset)" : ""}, areas at ${
    at(r.descLow, r.descHigh)
  }, ${at(r.driverLow, r.driverHigh)} and ${
    at(r.deviceLow, r.deviceHigh)
  }; QueueNumMax ${c.max}, ` +
    `RAM [0x${c.ram.base.toString(16)}, 0x${(c.ram.base + c.ram.size).toString(16)}), ` +
    `eventIdx ${c.eventIdx}`;
}

/**
 * Whether a check's result has the contract's shape: `null`, or a problem
 * `{ id, message, values }` with a message that is not empty. `undefined`
 * when it has; the shape, in words, when it has not (a subject's `shape`).
 *
 * @param r A result.
 */
export function problemShape(r: unknown): string | undefined {
  const p = r as RuleProblem;
  return r === null || (typeof p === "object" && typeof p.id === "string" &&
      typeof p.message === "string" && p.message.trim() !== "" &&
      typeof p.values === "object" && p.values !== null)
    ? undefined
    : "null, or a problem { id, message (not empty), values (an object) }";
}

/**
 * The judging half of a rule row over placements (for a subject whose case
 * is a placement's name and whose observation is the problem returned): the
 * cases of one topic, the verdict (the problem's id, or `null`), the fair
 * answers of each case, and `why` with the fair ids of the case appended.
 *
 * @param topic Which cases.
 * @param why What the rule requires, in words.
 */
export function placementJudging(topic: PlacementTopic, why: string) {
  return {
    cases: every(
      QUEUE_PLACEMENTS.filter((p) => p.topic === topic).map((p) => [p.name] as [string]),
    ),
    verdict: (r: RuleProblem | null): string | null => r?.id ?? null,
    agrees: (got: string | null, _want: string | null, name: string) => {
      const fair = placement(name).fair;
      return fair.length === 0 ? got === null : fair.includes(got as RequirementId);
    },
    expects: `${why}, for every case of the topic`,
    why: (_want: RuleProblem | null, name: string) => {
      const fair = placement(name).fair;
      if (fair.length === 0) return `${why}; this placement breaks none of it`;
      if (fair.length === 1) return why;
      return `${why}; this one breaks two rules, so "${fair[0]}" or "${fair[1]}" are both right`;
    },
  };
}
