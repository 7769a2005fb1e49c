/**
 * The hostile-driver corpus: descriptor tables and available rings a driver
 * that breaks the rules (or a guest attacking its host) could write, each
 * with the requirement id the device half must report, as data. The classes
 * are QEMU's `virtqueue_split_pop` error paths ("Looped descriptor", "Desc
 * next is %u", "zero sized buffers are not allowed", "Incorrect order for
 * descriptors", "Invalid size for indirect buffer table", "Guest moved used
 * index from %u to %u", "Virtqueue size exceeded"...), plus the valid chains
 * at the edge of each rule that an over-strict device wrongly refuses (a
 * buffer ending on RAM's last byte, exactly Queue Size descriptors, a 16-bit
 * index crossing 0xffff).
 *
 * - {@linkcode HOSTILE_CHAINS}: the cases; each builds its table on a fresh
 *   {@linkcode ringFixture} and names its rule (`accepted` marks a valid
 *   chain the device must take).
 * - {@linkcode popHostileChain}: runs one case against a device half (the
 *   reference parts, with the learner's merged in) on a non-strict log, under
 *   a read budget, watching for stores into the descriptor table and the
 *   available ring (2.7.5.1/2), and records what the device did.
 * - {@linkcode hostileChainSubject} and {@linkcode hostileChainRows}: the same
 *   as rule rows, one row per rule with its cases, so a grader's rows are a
 *   line: `...hostileChainRows(pop, { cases: HOSTILE_CHAINS.filter(...), hint: 2 })`.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { Check } from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import type { SplitRingDeviceParts } from "../../virtqueue/parts.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
} from "../../virtqueue/constants.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";
import { chain as showChain, descriptor as showDescriptor, ringIdx } from "./format.ts";
import { readBudget, RunawayReadsError } from "./budget.ts";
import {
  type RawDescriptor,
  type RingFixture,
  ringFixture,
  type RingFixtureOptions,
} from "./ring.ts";
import { attempt, every, ruleFor, type Subject, thrown } from "./rules.ts";

const NEXT = VIRTQ_DESC_F_NEXT;
const WRITE = VIRTQ_DESC_F_WRITE;
const INDIRECT = VIRTQ_DESC_F_INDIRECT;

/**
 * Which part of the device half a case is about: the chain walk, indirect tables, or the available
 * ring.
 */
export type HostileTopic = "chain" | "indirect" | "available";

/** One hostile (or edge-of-the-rule valid) driver, as data. */
export interface HostileChain {
  /** What the driver did, in words: `"a descriptor whose next is itself"`. */
  readonly name: string;
  /** The part of the device half it tests. */
  readonly topic: HostileTopic;
  /** The rule the case is about: the id the device must report (unless `accepted`). */
  readonly rule: RequirementId;
  /** A valid chain at the edge of `rule`: the device must take it and report nothing. */
  readonly accepted?: boolean;
  /** Other ids a device may fairly report (the case breaks those rules too). */
  readonly fair?: readonly RequirementId[];
  /** The real bug or the hardened implementation's message behind the case. */
  readonly source?: string;
  /** The fixture it needs (default: 8 entries, index 0, no features). */
  readonly fixture?: Pick<
    RingFixtureOptions,
    "size" | "startIdx" | "eventIdx" | "indirect" | "ramSize"
  >;
  /** How many chains the driver made available: the device pops that many times (default 1). */
  readonly pops?: number;
  /** Writes the descriptors and the available ring, as the hostile driver would. */
  readonly build: (f: RingFixture) => void;
}

/** Writes descriptors at indices 0, 1, 2... (or `at`) and makes the first available. */
function chainOf(f: RingFixture, descs: readonly RawDescriptor[], at?: readonly number[]): void {
  descs.forEach((d, k) => f.writeDescriptor(at?.[k] ?? k, d));
  f.makeAvailable(at?.[0] ?? 0);
}

/** A fresh buffer's address. */
function buf(f: RingFixture, len: number): number {
  return f.buffer(len).addr;
}

/** An indirect table of `entries`, allocated and written; returns its address. */
function tableOf(f: RingFixture, entries: readonly RawDescriptor[], bytes?: number): number {
  const addr = f.memory.quietly(() =>
    f.allocator.alloc(Math.max(bytes ?? 0, VIRTQ_DESC_SIZE * entries.length, 16), 16)
  );
  entries.forEach((d, k) => f.writeDescriptor(k, d, addr));
  return addr;
}

/**
 * Direct descriptors 0, 1, ... (linked with NEXT), then one pointing at the
 * table `table` of `len` bytes with INDIRECT (and `flags`); head 0 made available.
 */
function viaTable(
  f: RingFixture,
  direct: readonly RawDescriptor[],
  table: number,
  len: number,
  flags = 0,
): void {
  direct.forEach((d, k) => f.writeDescriptor(k, { ...d, flags: d.flags | NEXT, next: k + 1 }));
  f.writeDescriptor(direct.length, { addr: table, len, flags: INDIRECT | flags });
  f.makeAvailable(0);
}

/** `n` descriptors linked 0 -> 1 -> ... -> n-1, each a 16-byte readable buffer. */
function linked(f: RingFixture, n: number, lastNext?: number): RawDescriptor[] {
  const b = buf(f, 16);
  return Array.from({ length: n }, (_, k) => ({
    addr: b,
    len: 16,
    flags: k < n - 1 || lastNext !== undefined ? NEXT : 0,
    next: k < n - 1 ? k + 1 : lastNext ?? 0,
  }));
}

/**
 * The corpus. Each case breaks exactly the rule it names (or, `accepted`,
 * keeps every rule at the edge of it), except where `fair` lists the other
 * rules it cannot help breaking; the reference device half reports exactly
 * `rule` for each (`tests/lessons/kit/` checks it).
 */
export const HOSTILE_CHAINS: readonly HostileChain[] = Object.freeze(
  [
    // The chain walk: loops and lengths (2.7.5.3.1/3).
    {
      name: "a descriptor whose next is itself",
      topic: "chain",
      rule: "2.7.5.3.1/3",
      source: 'QEMU virtqueue_split_pop: "Looped descriptor"',
      build: (f) => chainOf(f, [{ addr: buf(f, 16), len: 16, flags: NEXT, next: 0 }]),
    },
    {
      name: "two descriptors that point at each other",
      topic: "chain",
      rule: "2.7.5.3.1/3",
      source: 'QEMU virtqueue_split_pop: "Looped descriptor"',
      build: (f) => chainOf(f, linked(f, 2, 0)),
    },
    {
      name: "a chain of 100 descriptors whose last goes back to the 51st",
      topic: "chain",
      rule: "2.7.5.3.1/3",
      fixture: { size: 128 },
      build: (f) => chainOf(f, linked(f, 100, 50)),
    },
    {
      name: "a chain of exactly Queue Size descriptors",
      topic: "chain",
      rule: "2.7.5.3.1/3",
      accepted: true,
      build: (f) => chainOf(f, linked(f, 8)),
    },
    {
      name: "a descriptor whose next is Queue Size",
      topic: "chain",
      rule: "2.7.5/D1",
      source: 'QEMU virtqueue_read_next_desc: "Desc next is %u"',
      build: (f) => chainOf(f, [{ addr: buf(f, 16), len: 16, flags: NEXT, next: 8 }]),
    },
    {
      name: "a descriptor whose next is 0xffff",
      topic: "chain",
      rule: "2.7.5/D1",
      build: (f) => chainOf(f, [{ addr: buf(f, 16), len: 16, flags: NEXT, next: 0xffff }]),
    },
    {
      name: "a descriptor of length 0",
      topic: "chain",
      rule: "2.7.5/D3",
      source: 'QEMU virtqueue_map_desc: "zero sized buffers are not allowed"',
      build: (f) => chainOf(f, [{ addr: buf(f, 16), len: 0, flags: 0 }]),
    },
    {
      name: "a zero-length descriptor after a good one",
      topic: "chain",
      rule: "2.7.5/D3",
      build: (f) =>
        chainOf(f, [{ addr: buf(f, 16), len: 16, flags: NEXT, next: 1 }, {
          addr: buf(f, 16),
          len: 0,
          flags: WRITE,
        }]),
    },
    {
      name: "a device-readable descriptor after a device-writable one",
      topic: "chain",
      rule: "2.7.4.2/1",
      source: 'QEMU virtqueue_split_pop: "Incorrect order for descriptors"',
      build: (f) =>
        chainOf(f, [{ addr: buf(f, 512), len: 512, flags: WRITE | NEXT, next: 1 }, {
          addr: buf(f, 16),
          len: 16,
          flags: 0,
        }]),
    },
    {
      name: "a header split 1 + 15 across two descriptors, then a status byte",
      topic: "chain",
      rule: "2.7.4.1/1",
      accepted: true,
      source: "Firecracker issue #1560 (valid chains rejected as too short)",
      build: (f) =>
        chainOf(f, [
          { addr: buf(f, 1), len: 1, flags: NEXT, next: 1 },
          { addr: buf(f, 15), len: 15, flags: NEXT, next: 2 },
          { addr: buf(f, 1), len: 1, flags: WRITE },
        ]),
    },
    {
      name: "a buffer that runs one byte past the end of RAM",
      topic: "chain",
      rule: "2.7.5/D2",
      source: "Firecracker issues #1296, #2403 (the edge of RAM off by one)",
      build: (f) => chainOf(f, [{ addr: f.memory.end - 16, len: 17, flags: WRITE }]),
    },
    {
      name: "a buffer that ends exactly on the last byte of RAM",
      topic: "chain",
      rule: "2.7.5/D2",
      accepted: true,
      source: "Firecracker issues #1296, #2403 (a valid buffer at the top of RAM rejected)",
      build: (f) => chainOf(f, [{ addr: f.memory.end - 16, len: 16, flags: WRITE }]),
    },
    {
      name: "a buffer that starts 8 bytes below RAM",
      topic: "chain",
      rule: "2.7.5/D2",
      build: (f) => chainOf(f, [{ addr: f.memory.base - 8, len: 16, flags: 0 }]),
    },
    {
      name: "a buffer whose addr + len wraps past 2^64",
      topic: "chain",
      rule: "2.7.5/D2",
      source: "Firecracker issue #1462 (a bounds check that let the guest reach host memory)",
      build: (f) => chainOf(f, [{ addr: (1n << 64n) - 8n, len: 16, flags: 0 }]),
    },
    {
      name: "a buffer of 0xffffffff bytes",
      topic: "chain",
      rule: "2.7.5/D2",
      source: "QEMU CVE-2016-7422 (a descriptor length near 2^32)",
      build: (f) => chainOf(f, [{ addr: f.memory.base, len: 0xffff_ffff, flags: WRITE }]),
    },
    {
      name: "4097 descriptors of 1 MiB each, all inside RAM: more than 2^32 bytes",
      topic: "chain",
      rule: "2.7.5.2/1",
      fixture: { size: 8192, ramSize: 2 << 20 },
      build: (f) => {
        const mib = f.buffer(1 << 20).addr; // every descriptor may name the same buffer
        const n = 4097;
        for (let k = 0; k < n; k++) {
          f.writeDescriptor(k, {
            addr: mib,
            len: 1 << 20,
            flags: k < n - 1 ? NEXT : 0,
            next: k + 1,
          });
        }
        f.makeAvailable(0);
      },
    },
    {
      name: "two buffers of 0xffffffff bytes",
      topic: "chain",
      rule: "2.7.5.2/1",
      fair: ["2.7.5/D2"],
      build: (f) =>
        chainOf(f, [{ addr: f.memory.base, len: 0xffff_ffff, flags: NEXT, next: 1 }, {
          addr: f.memory.base,
          len: 0xffff_ffff,
          flags: 0,
        }]),
    },

    // The available ring (§2.7.6).
    {
      name: "an available slot naming descriptor Queue Size",
      topic: "available",
      rule: "2.7.5/D1",
      source: 'QEMU virtqueue_get_head: "Guest says index %u is available"',
      build: (f) => {
        f.writeDescriptor(0, { addr: buf(f, 16), len: 16, flags: 0 });
        f.makeAvailable(8);
      },
    },
    {
      name: "an available slot naming descriptor 0xffff",
      topic: "available",
      rule: "2.7.5/D1",
      build: (f) => f.makeAvailable(0xffff),
    },
    {
      name: "an available idx Queue Size + 1 entries ahead",
      topic: "available",
      rule: "2.7.6/D1",
      source: 'QEMU CVE-2016-5403 ("Virtqueue size exceeded"); Firecracker issue #3149',
      build: (f) => {
        f.writeDescriptor(0, { addr: buf(f, 16), len: 16, flags: 0 });
        f.makeAvailable(0);
        f.setAvailIdx(f.startIdx + 9);
      },
    },
    {
      name: "an available idx exactly Queue Size entries ahead",
      topic: "available",
      rule: "2.7.6/D1",
      accepted: true,
      pops: 8,
      build: (f) => {
        const b = buf(f, 16);
        for (let k = 0; k < 8; k++) f.writeDescriptor(k, { addr: b, len: 16, flags: 0 });
        f.makeAvailable(0, 1, 2, 3, 4, 5, 6, 7);
      },
    },
    {
      name: "an available idx moved back by one",
      topic: "available",
      rule: "2.7.6.1/1",
      source: 'QEMU virtqueue_num_heads: "Guest moved used index from %u to %u"',
      build: (f) => f.setAvailIdx(f.startIdx - 1),
    },
    {
      name: "four chains made available across the 16-bit wrap (idx 0xfffe to 0x0002)",
      topic: "available",
      rule: "2.7.6/D1",
      accepted: true,
      fixture: { startIdx: 0xfffe },
      pops: 4,
      build: (f) => {
        const b = buf(f, 16);
        for (let k = 0; k < 4; k++) f.writeDescriptor(k, { addr: b, len: 16, flags: 0 });
        f.makeAvailable(0, 1, 2, 3);
      },
    },
    {
      name: "a head made available again while the device still holds it",
      topic: "available",
      rule: "2.7.6/D2",
      pops: 2,
      source: 'QEMU virtqueue_split_pop: "Virtqueue size exceeded" (a head in flight twice)',
      build: (f) => {
        f.writeDescriptor(0, { addr: buf(f, 16), len: 16, flags: 0 });
        f.makeAvailable(0, 0);
      },
    },

    // Indirect tables (§2.7.5.3).
    {
      name: "an indirect table of length 0",
      topic: "indirect",
      rule: "2.7.5.3/D1",
      fixture: { indirect: true },
      source: 'QEMU: "Invalid size for indirect buffer table"; microsoft/openvmm PR #2783',
      build: (f) => chainOf(f, [{ addr: tableOf(f, []), len: 0, flags: INDIRECT }]),
    },
    {
      name: "an indirect table of 24 bytes",
      topic: "indirect",
      rule: "2.7.5.3/D1",
      fixture: { indirect: true },
      source: 'QEMU: "Invalid size for indirect buffer table"; microsoft/openvmm PR #2783',
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 16), len: 16, flags: 0 }], 32);
        chainOf(f, [{ addr: table, len: 24, flags: INDIRECT }]);
      },
    },
    {
      name: "an indirect table entry that is itself indirect",
      topic: "indirect",
      rule: "2.7.5.3.1/2",
      fixture: { indirect: true },
      build: (f) => {
        const inner = tableOf(f, [{ addr: buf(f, 16), len: 16, flags: 0 }]);
        const outer = tableOf(f, [{ addr: inner, len: 16, flags: INDIRECT }]);
        chainOf(f, [{ addr: outer, len: 16, flags: INDIRECT }]);
      },
    },
    {
      name: "an indirect descriptor that also has NEXT",
      topic: "indirect",
      rule: "2.7.5.3.1/4",
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 16), len: 16, flags: 0 }]);
        chainOf(f, [{ addr: table, len: 16, flags: INDIRECT | NEXT, next: 1 }, {
          addr: buf(f, 16),
          len: 16,
          flags: WRITE,
        }]);
      },
    },
    {
      name: "an indirect descriptor without VIRTIO_F_INDIRECT_DESC negotiated",
      topic: "indirect",
      rule: "2.7.5.3.1/1",
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 16), len: 16, flags: 0 }]);
        chainOf(f, [{ addr: table, len: 16, flags: INDIRECT }]);
      },
    },
    {
      name: "an indirect table of Queue Size + 1 entries",
      topic: "indirect",
      rule: "2.7.5.3.1/3",
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, linked(f, 9));
        chainOf(f, [{ addr: table, len: 9 * VIRTQ_DESC_SIZE, flags: INDIRECT }]);
      },
    },
    {
      name: "a loop inside an indirect table",
      topic: "indirect",
      rule: "2.7.5.3.1/3",
      fixture: { indirect: true },
      source: 'QEMU virtqueue_split_pop: "Looped descriptor"',
      build: (f) => {
        const table = tableOf(f, linked(f, 2, 0));
        chainOf(f, [{ addr: table, len: 2 * VIRTQ_DESC_SIZE, flags: INDIRECT }]);
      },
    },
    {
      name: "an indirect table entry whose next is beyond the table",
      topic: "indirect",
      rule: "2.7.5/D1",
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, linked(f, 2, 2));
        chainOf(f, [{ addr: table, len: 2 * VIRTQ_DESC_SIZE, flags: INDIRECT }]);
      },
    },
    {
      name: "a zero-length entry in an indirect table",
      topic: "indirect",
      rule: "2.7.5/D3",
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 16), len: 0, flags: 0 }]);
        chainOf(f, [{ addr: table, len: 16, flags: INDIRECT }]);
      },
    },
    {
      name: "a readable entry after a writable one in an indirect table",
      topic: "indirect",
      rule: "2.7.4.2/1",
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 64), len: 64, flags: WRITE | NEXT, next: 1 }, {
          addr: buf(f, 16),
          len: 16,
          flags: 0,
        }]);
        chainOf(f, [{ addr: table, len: 2 * VIRTQ_DESC_SIZE, flags: INDIRECT }]);
      },
    },
    {
      name: "an indirect table that starts at the end of RAM",
      topic: "indirect",
      rule: "2.7.5/D2",
      fixture: { indirect: true },
      build: (f) => chainOf(f, [{ addr: f.memory.end, len: 32, flags: INDIRECT }]),
    },
    {
      name: "an indirect table that ends exactly on the last byte of RAM",
      topic: "indirect",
      rule: "2.7.5/D2",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => {
        const at = f.memory.end - 2 * VIRTQ_DESC_SIZE;
        f.writeDescriptor(0, { addr: buf(f, 16), len: 16, flags: NEXT, next: 1 }, at);
        f.writeDescriptor(1, { addr: buf(f, 512), len: 512, flags: WRITE }, at);
        chainOf(f, [{ addr: at, len: 2 * VIRTQ_DESC_SIZE, flags: INDIRECT }]);
      },
    },
    {
      name: "a readable direct descriptor, then an indirect one",
      topic: "indirect",
      rule: "2.7.5.3.2/2",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 512), len: 512, flags: WRITE }]);
        chainOf(f, [{ addr: buf(f, 16), len: 16, flags: NEXT, next: 1 }, {
          addr: table,
          len: 16,
          flags: INDIRECT,
        }]);
      },
    },
    {
      name: "an indirect descriptor with WRITE set, its table readable then writable",
      topic: "indirect",
      rule: "2.7.5.3.2/1",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 16), len: 16, flags: NEXT, next: 1 }, {
          addr: buf(f, 512),
          len: 512,
          flags: WRITE,
        }]);
        chainOf(f, [{ addr: table, len: 2 * VIRTQ_DESC_SIZE, flags: INDIRECT | WRITE }]);
      },
    },
    {
      name: "a table whose entries link 0 -> 2 -> 1",
      topic: "indirect",
      rule: "2.7.4.1/1",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [
          { addr: buf(f, 16), len: 16, flags: NEXT, next: 2 },
          { addr: buf(f, 1), len: 1, flags: WRITE },
          { addr: buf(f, 64), len: 64, flags: WRITE | NEXT, next: 1 },
        ]);
        viaTable(f, [], table, 3 * VIRTQ_DESC_SIZE);
      },
    },
    {
      name: "a chain that ends at entry 1 of a table of 3, entry 2 unused",
      topic: "indirect",
      rule: "2.7.4.1/1",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [
          { addr: buf(f, 16), len: 16, flags: NEXT, next: 1 },
          { addr: buf(f, 64), len: 64, flags: WRITE },
          { addr: 0, len: 0, flags: INDIRECT | NEXT, next: 9 },
        ]);
        viaTable(f, [], table, 3 * VIRTQ_DESC_SIZE);
      },
    },
    {
      name: "an indirect table of exactly Queue Size entries",
      topic: "indirect",
      rule: "2.7.5.3.1/3",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => viaTable(f, [], tableOf(f, linked(f, 8)), 8 * VIRTQ_DESC_SIZE),
    },
    {
      name: "seven direct descriptors, then a table of eight entries, on a queue of 8",
      topic: "indirect",
      rule: "2.7.5.3.1/3",
      source: "virtio-lab issue 9: the reference bounded each part by Queue Size, not their sum",
      fixture: { indirect: true },
      build: (f) => viaTable(f, linked(f, 7), tableOf(f, linked(f, 8)), 8 * VIRTQ_DESC_SIZE),
    },
    {
      name: "three direct descriptors, then a table of six entries (nine in all)",
      topic: "indirect",
      rule: "2.7.5.3.1/3",
      fixture: { indirect: true },
      build: (f) => viaTable(f, linked(f, 3), tableOf(f, linked(f, 6)), 6 * VIRTQ_DESC_SIZE),
    },
    {
      name: "three direct descriptors, then a table of five entries (exactly Queue Size in all)",
      topic: "indirect",
      rule: "2.7.5.3.1/3",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => viaTable(f, linked(f, 3), tableOf(f, linked(f, 5)), 5 * VIRTQ_DESC_SIZE),
    },
    {
      name: "three direct descriptors, then a table of eight whose chain ends at entry 4",
      topic: "indirect",
      rule: "2.7.5.3.1/3",
      accepted: true,
      fixture: { indirect: true },
      build: (f) =>
        viaTable(
          f,
          linked(f, 3),
          tableOf(f, [...linked(f, 5), ...linked(f, 3)]),
          8 * VIRTQ_DESC_SIZE,
        ),
    },
    {
      name: "an indirect table of 0xfffffff0 bytes",
      topic: "indirect",
      rule: "2.7.5.3.1/3",
      fair: ["2.7.5/D2"],
      fixture: { indirect: true },
      build: (f) => viaTable(f, [], tableOf(f, linked(f, 1)), 0xffff_fff0),
    },
    {
      name: "two readable direct descriptors, then a table of one writable entry",
      topic: "indirect",
      rule: "2.7.5.3.2/2",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 512), len: 512, flags: WRITE }]);
        viaTable(
          f,
          [{ addr: buf(f, 16), len: 16, flags: 0 }, {
            addr: buf(f, 4),
            len: 4,
            flags: 0,
          }],
          table,
          VIRTQ_DESC_SIZE,
        );
      },
    },
    {
      name: "a writable direct descriptor, then a table of one readable entry",
      topic: "indirect",
      rule: "2.7.4.2/1",
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 16), len: 16, flags: 0 }]);
        viaTable(f, [{ addr: buf(f, 64), len: 64, flags: WRITE }], table, VIRTQ_DESC_SIZE);
      },
    },
    {
      name: "an indirect descriptor with WRITE set, its table all readable",
      topic: "indirect",
      rule: "2.7.5.3.2/1",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 16), len: 16, flags: NEXT, next: 1 }, {
          addr: buf(f, 32),
          len: 32,
          flags: 0,
        }]);
        viaTable(f, [], table, 2 * VIRTQ_DESC_SIZE, WRITE);
      },
    },
    {
      name: "an indirect table entry whose buffer runs one byte past the end of RAM",
      topic: "indirect",
      rule: "2.7.5/D2",
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: buf(f, 16), len: 16, flags: NEXT, next: 1 }, {
          addr: f.memory.end - 16,
          len: 17,
          flags: WRITE,
        }]);
        viaTable(f, [], table, 2 * VIRTQ_DESC_SIZE);
      },
    },
    {
      name: "an indirect table entry whose buffer ends on the last byte of RAM",
      topic: "indirect",
      rule: "2.7.5/D2",
      accepted: true,
      fixture: { indirect: true },
      build: (f) => {
        const table = tableOf(f, [{ addr: f.memory.end - 512, len: 512, flags: WRITE }]);
        viaTable(f, [], table, VIRTQ_DESC_SIZE);
      },
    },
    {
      name: "an indirect table that runs 16 bytes past the end of RAM",
      topic: "indirect",
      rule: "2.7.5/D2",
      fixture: { indirect: true },
      build: (f) => {
        const at = f.memory.end - VIRTQ_DESC_SIZE;
        f.writeDescriptor(0, { addr: buf(f, 16), len: 16, flags: 0 }, at);
        viaTable(f, [], at, 2 * VIRTQ_DESC_SIZE);
      },
    },
  ] satisfies HostileChain[],
);

/** What a device half did with one hostile case. */
export interface HostilePop {
  /** The chains it took, in order (copies of their segments). */
  readonly chains: readonly DescriptorChain[];
  /** The ids it reported (rules the driver broke), in order. */
  readonly reported: readonly RequirementId[];
  /** The id that broke the queue, or `null` if it is healthy. */
  readonly broken: RequirementId | null;
  /**
   * What a pop threw (a bug in the device half: a hostile driver must never crash it), if anything.
   */
  readonly threw?: unknown;
  /** The read budget's message, if it stopped a pop that was looping. */
  readonly runaway: string | null;
  /**
   * Stores and views into the descriptor table or the available ring (the device must make none,
   * 2.7.5.1/2).
   */
  readonly ringStores: number;
  /** Loads the pops made. */
  readonly loads: number;
  /** The case's table, in words (the available ring and the first descriptors). */
  readonly table: string;
}

/**
 * Loads a device may make per pop: 16 per descriptor of the queue (a correct walk needs 4), plus
 * some.
 */
function budgetFor(size: number): number {
  return 16 * size + 64;
}

/**
 * Runs a case: a fresh fixture (not strict), the case's table, then
 * `case.pops` pops of the device half (the reference parts with `parts`
 * merged in), each under a read budget, with stores into the descriptor
 * table and the available ring watched. Never throws for what the device
 * half does (a stub's `todo()` passes through).
 *
 * @param c The case.
 * @param parts Device-side parts to use instead of the reference ones.
 * @returns What the device half did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HOSTILE_CHAINS, popHostileChain } from "./hostile_driver.ts";
 *
 * const loop = HOSTILE_CHAINS.find((c) => c.name === "two descriptors that point at each other")!;
 * const walkerWithoutLoopCheck = popHostileChain(loop, {
 *   walkChain: (ring, head) => {
 *     const segments = [];
 *     for (let i = head;;) {
 *       const at = ring.descAddr + 16 * i;
 *       segments.push({ addr: ring.memory.readU64Number(at), len: ring.memory.readU32(at + 8) });
 *       if ((ring.memory.readU16(at + 12) & 1) === 0) break;
 *       i = ring.memory.readU16(at + 14);
 *     }
 *     return { head, readable: segments, writable: [], readableLength: 0, writableLength: 0,
 *       descriptorCount: segments.length, indirect: false };
 *   },
 * });
 * assert.match(walkerWithoutLoopCheck.runaway!, /loop that never ends/);
 * assert.deepEqual(popHostileChain(loop).reported, ["2.7.5.3.1/3"]);
 * ```
 */
export function popHostileChain(
  c: HostileChain,
  parts: Partial<SplitRingDeviceParts> = {},
): HostilePop {
  const f = ringFixture({ ...c.fixture, device: parts });
  c.build(f);
  const table = describeTable(f);
  const watches = [
    f.memory.watchStores(f.ranges.descTable),
    f.memory.watchStores(f.ranges.availRing),
  ];
  const chains: DescriptorChain[] = [];
  let runaway: string | null = null;
  let threw: { threw: unknown } | null = null;
  const start = f.memory.loads;
  for (let k = 0; k < (c.pops ?? 1); k++) {
    const budget = readBudget(f.memory, budgetFor(f.size), {
      doing: `popping the chain of "${c.name}"`,
      place: f.place,
    });
    const outcome = attempt(() => f.deviceQueue.pop());
    budget.stop();
    if ("threw" in outcome) {
      if (outcome.threw instanceof RunawayReadsError) runaway = outcome.threw.message;
      else threw = outcome;
      break;
    }
    if (outcome.returned === null) break;
    chains.push(outcome.returned);
  }
  for (const w of watches) w.stop();
  return {
    chains,
    reported: f.log.find({ role: "driver" }).map((v) => v.id),
    broken: f.deviceQueue.broken?.id ?? null,
    ...(threw ?? {}),
    runaway,
    ringStores: watches.reduce((n, w) => n + w.stores.length, 0),
    loads: f.memory.loads - start,
    table,
  };
}

/** The available ring and the first descriptors of a case, for messages. */
function describeTable(f: RingFixture): string {
  const idx = f.availIdx();
  const from = f.device.lastAvail;
  const pending = (idx - from) & 0xffff;
  const heads: number[] = [];
  f.memory.quietly(() => {
    for (let k = 0; k < Math.min(pending, 2); k++) {
      heads.push(f.memory.readU16(f.addresses.availAddr + 4 + 2 * ((from + k) & (f.size - 1))));
    }
  });
  const descs: string[] = [];
  const seen = new Set<number>();
  for (let i = heads[0] ?? 0; descs.length < 3 && i < f.size && !seen.has(i);) {
    seen.add(i);
    const d = f.readDescriptor(i);
    descs.push(showDescriptor({ ...d, index: i }));
    if ((d.flags & NEXT) === 0) break;
    i = d.next;
  }
  return `available idx ${ringIdx(idx, f.size)}, heads [${heads.join(", ")}${
    pending > 2 ? ", ..." : ""
  }]; ${descs.join(", ")}${descs.length === 3 ? ", ..." : ""}`;
}

/**
 * A hostile case's run, for a failure message: the chains taken, the ids
 * reported, a throw or the budget's message.
 *
 * @param o The run.
 */
export function showHostilePop(o: HostilePop): string {
  if (o.runaway !== null) return `was stopped by the read budget: ${o.runaway}`;
  if ("threw" in o) return `threw ${thrown(o.threw)}`;
  const took = o.chains.length === 0
    ? "took no chain"
    : `took ${o.chains.length} chain(s) (${o.chains.slice(0, 2).map(showChain).join("; ")}${
      o.chains.length > 2 ? "; ..." : ""
    })`;
  const said = o.reported.length === 0
    ? "reported nothing"
    : `reported ${o.reported.join(", ")}${o.broken ? " and broke the queue" : ""}`;
  const wrote = o.ringStores > 0
    ? `, and stored ${o.ringStores} time(s) into the descriptor table or the available ring`
    : "";
  return `${took}, ${said}${wrote}`;
}

/** The part of a run a hostile-driver row decides. */
export interface HostileVerdict {
  /** Chains taken, as `readable`/`writable` segment lists. */
  readonly taken: readonly string[];
  /** The first id reported, or `null`. */
  readonly id: RequirementId | null;
  /** Whether the device half misbehaved itself: threw, looped, or wrote the driver's areas. */
  readonly misbehaved: boolean;
}

/**
 * What a hostile-driver row compares.
 *
 * @param o The run.
 */
export function hostileVerdict(o: HostilePop): HostileVerdict {
  return {
    taken: o.chains.map((c) => `${showChain(c)}`),
    id: o.reported[0] ?? null,
    misbehaved: o.runaway !== null || "threw" in o || o.ringStores > 0,
  };
}

/**
 * The subject of hostile-driver rows: the device half with the learner's
 * parts (those `parts(impl)` names) against one case.
 *
 * @param parts The learner's device-side parts, from their module.
 * @param call How a case is shown, e.g. `(c) => \`walkChain on ${c.name}\``.
 */
export function hostileChainSubject<I>(
  parts: (impl: I) => Partial<SplitRingDeviceParts>,
  call: (c: HostileChain) => string = (c) => `popping ${c.name}`,
): Subject<I, [HostileChain], HostilePop> {
  return {
    run: (impl, c) => popHostileChain(c, parts(impl)),
    reference: (c) => popHostileChain(c),
    show: (c) => `${call(c)} (${describeTable(withCase(c))})`,
    result: showHostilePop,
    verb: "and the device",
  };
}

function withCase(c: HostileChain): RingFixture {
  const f = ringFixture(c.fixture);
  c.build(f);
  return f;
}

/** Row names by rule: what each rule's hostile cases check, in a few words. */
export const HOSTILE_CHAIN_ROWS: Readonly<Partial<Record<RequirementId, string>>> = Object.freeze({
  "2.7.5.3.1/3": "a chain that loops or runs past Queue Size is refused",
  "2.7.5/D1": "a descriptor index beyond the table is refused",
  "2.7.5/D3": "a zero-length descriptor is refused",
  "2.7.4.2/1": "a readable buffer after a writable one is refused",
  "2.7.4.1/1": "a chain is taken whatever its framing",
  "2.7.5/D2": "a buffer or table outside RAM is refused, one ending on its last byte taken",
  "2.7.5.2/1": "a chain of more than 2^32 bytes is refused",
  "2.7.6/D1": "an available idx more than Queue Size ahead is refused, across the wrap too",
  "2.7.6.1/1": "an available idx that moves back is refused",
  "2.7.6/D2": "a head made available twice while in flight is refused",
  "2.7.5.3/D1": "an indirect table of 0 or a non-multiple of 16 bytes is refused",
  "2.7.5.3.1/2": "an indirect table inside an indirect table is refused",
  "2.7.5.3.1/4": "an indirect descriptor with NEXT is refused",
  "2.7.5.3.1/1": "an indirect descriptor without the feature is refused",
  "2.7.5.3.2/2": "direct descriptors before an indirect one are taken",
  "2.7.5.3.2/1": "WRITE on an indirect descriptor means nothing",
});

/** What {@linkcode hostileChainRows} takes. */
export interface HostileRowsOptions<C> {
  /** The cases (default: all of them). */
  readonly cases?: readonly C[];
  /** The hint every row points at. */
  readonly hint: number;
}

/**
 * Hostile-driver rule rows: one check per rule among the cases, in corpus
 * order, each sweeping that rule's cases. A case fails when the learner's
 * device half takes other chains than the reference (or none where it takes
 * one), reports another id than the rule (or a `fair` one), or misbehaves:
 * throws, is stopped by the read budget, or stores into the driver's areas.
 *
 * @param subject From {@linkcode hostileChainSubject}.
 * @param options The cases and the hint.
 * @returns The checks.
 */
export function hostileChainRows<I>(
  subject: Subject<I, [HostileChain], HostilePop>,
  options: HostileRowsOptions<HostileChain>,
): Check<I>[] {
  const row = ruleFor(subject, { hint: options.hint });
  const cases = options.cases ?? HOSTILE_CHAINS;
  const rules = [...new Set(cases.map((c) => c.rule))];
  return rules.map((rule) =>
    row<HostileVerdict>({
      name: HOSTILE_CHAIN_ROWS[rule] ?? `hostile chains: ${rule}`,
      requirement: rule,
      cases: every(cases.filter((c) => c.rule === rule).map((c) => [c] as [HostileChain])),
      verdict: hostileVerdict,
      agrees: (got, want, c) =>
        !got.misbehaved && got.taken.length === want.taken.length &&
        got.taken.every((t, i) => t === want.taken[i]) &&
        (got.id === want.id || (got.id !== null && (c.fair ?? []).includes(got.id))),
      why: (_want, c) =>
        c.accepted
          ? `the device to take this valid chain (${c.name}) and report nothing`
          : `the device to refuse it without throwing, reporting ${c.rule}${
            c.fair ? ` (or ${c.fair.join(", ")})` : ""
          }, and to break the queue`,
      note: (_got, _want, c) => c.source && `Case file: ${c.source}.`,
    })
  );
}
