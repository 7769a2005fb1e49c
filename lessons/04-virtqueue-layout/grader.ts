/**
 * The grader of lesson 4, "Where a split virtqueue lives".
 *
 * Driver side: `splitQueueLayout` against the spec's table for all 16 Queue
 * Sizes, with the event fields, without them and by default, and refusing
 * every size that is not a power of two up to 32768; `allocateQueueAreas` on
 * guest RAM filled with 0xa5 (an area that is not zeroed shows it), on an
 * allocator whose next free byte is odd, with the reference layout and with a
 * roomier one (the layout given is the one used), and on allocators too small
 * (nothing may stay allocated). Device side: `queueAreaProblem` on queue
 * register cases written as data, each with the ids a part may fairly return:
 * the valid edges (an area ending on RAM's last byte, parts that touch, rings
 * aligned to 2 and 4 bytes only, RAM above 4 GiB, an area at address 0) as
 * well as each refusal; then inside the lab's register file. Last, the lab
 * machine lays out, allocates and checks every queue with the learner's code.
 *
 * @module
 */

import { defineGrader, expect } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import { type SplitQueueLayout, splitQueueLayout as refLayout } from "../../virtqueue/layout.ts";
import { allocateQueueAreas as referenceAllocate } from "../../virtqueue/driver/areas.ts";
import type { SplitQueueAddresses } from "../../virtqueue/types.ts";
import { queueAreaProblem as referenceCheck } from "../../transport/queue_registers.ts";
import * as R from "../../transport/mmio_registers.ts";
import type { RuleProblem } from "../../transport/types.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import * as show from "../kit/format.ts";
import { deviceFixture } from "../kit/mmio.ts";
import { attempt, every, type Outcome, ruleFor, thrownFields } from "../kit/rules.ts";
import { machineCheck } from "../kit/machine.ts";
import {
  describePlacement,
  placement,
  placementJudging as judging,
  problemShape,
} from "../kit/placements.ts";

type Impl = typeof Exercise;
type Layout = (size: number, eventIdx?: boolean) => SplitQueueLayout;

const NETBSD_NOTE = "NetBSD once sized its rings with sizeof of a zero-length array, 0 bytes " +
  "for ring[] (PR kern/57304): each ring ran into the part after it. The case file of this lesson.";
const FIRECRACKER_NOTE = "An area may end on RAM's last byte: address + length may equal RAM's " +
  "end. Firecracker refused buffers there (issue #1296; its block device until PR #2403).";

// ------------------------------------------------------------ splitQueueLayout

type LayoutCase = [size: number, eventIdx: boolean | undefined];
const call = (fn: Layout, size: number, ev: boolean | undefined) =>
  attempt(() => ev === undefined ? fn(size) : fn(size, ev));
const layout = ruleFor<Impl, LayoutCase, Outcome<unknown>>({
  run: (impl, size, ev) => call(impl.splitQueueLayout, size, ev),
  reference: (size, ev) => call(refLayout, size, ev),
  key: (size, ev) => `${size} ${ev}`,
  show: (size, ev) => `splitQueueLayout(${size}${ev === undefined ? "" : `, ${ev}`})`,
  result: (o) => "returned" in o ? `returned ${show.fields(o.returned)}` : show.outcome(o),
}, { hint: 3 });
const LAYOUTS = every(
  Array.from({ length: 16 }, (_, i) => 2 ** i)
    .flatMap((n): LayoutCase[] => [[n, undefined], [n, true], [n, false]]),
);
/** The fields a row decides (or what was thrown), as its verdict and in its failures. */
const pick = (...names: (keyof SplitQueueLayout)[]) => {
  const verdict = (o: Outcome<unknown>) =>
    "threw" in o
      ? thrownFields(o)
      : Object.fromEntries(names.map((n) => [n, (o.returned as Record<string, unknown>)?.[n]]));
  const result = (o: Outcome<unknown>) =>
    "threw" in o ? show.outcome(o) : `returned ${show.fields(verdict(o))}, among other fields`;
  return { verdict, result };
};
const sizeOf = (o: Outcome<unknown>, field: keyof SplitQueueLayout) =>
  "returned" in o ? Number((o.returned as Record<string, unknown>)?.[field]) : NaN;
const smaller =
  (field: keyof SplitQueueLayout) => (got: Outcome<unknown>, want: Outcome<unknown>) =>
    sizeOf(got, field) < sizeOf(want, field) ? NETBSD_NOTE : undefined;

// ------------------------------------------------------------ allocateQueueAreas

const RAM_BASE = 0x4000_0000;
const REFERENCE = "the reference layout";
const ROOMY = "a roomier layout (64-byte aligned, 48 bytes more each)";
const LAYOUT_GIVEN: Record<string, Layout> = {
  [REFERENCE]: refLayout,
  [ROOMY]: (size, ev) => {
    const l = refLayout(size, ev);
    return {
      ...l,
      ...{ descTableSize: l.descTableSize + 48, availRingSize: l.availRingSize + 48 },
      ...{ usedRingSize: l.usedRingSize + 48, descTableAlign: 64 },
      ...{ availRingAlign: 64, usedRingAlign: 64 },
    };
  },
};
const PLENTY = "an empty allocator";
const SKEWED = "an allocator whose next free byte is odd";
const TIGHT = "an allocator with room for the table and the available ring only";
const NONE = "an allocator with no room at all";

type Area = { at: unknown; aligned: boolean; allocated: number; needed: number; zeroed: boolean };
type Allocation = {
  outcome: Outcome<unknown>;
  areas: readonly Area[];
  left: number;
  leaked: number;
  asked: readonly boolean[];
};

function allocate(fn: Impl["allocateQueueAreas"], size: number, given: string, room: string) {
  const memory = new GuestMemory(192 * 1024, { base: RAM_BASE });
  memory.fill(RAM_BASE, memory.size, 0xa5);
  const ref = attempt(() => refLayout(size, true));
  const l = "returned" in ref ? ref.returned : null;
  const end = room === NONE
    ? RAM_BASE
    : room === TIGHT && l
    ? RAM_BASE + l.descTableSize + l.availRingSize + 8
    : undefined;
  const allocator = new GuestAllocator(memory, { end });
  if (room === SKEWED) allocator.alloc(1, 1);
  const [count, available] = [allocator.count, allocator.available];
  const asked: boolean[] = [];
  const spy: Layout = (s, ev) => (asked.push(ev ?? true), LAYOUT_GIVEN[given](s, ev));
  const outcome = attempt(() => fn(allocator, size, spy));
  const want = l && LAYOUT_GIVEN[given](size, true);
  const got = "returned" in outcome ? outcome.returned as Partial<SplitQueueAddresses> : {};
  const parts: [unknown, number, number][] = want
    ? [
      [got.descAddr, want.descTableSize, want.descTableAlign],
      [got.availAddr, want.availRingSize, want.availRingAlign],
      [got.usedAddr, want.usedRingSize, want.usedRingAlign],
    ]
    : [];
  const areas = parts.map(([at, needed, align]): Area => {
    const n = typeof at === "number" ? at : NaN;
    const zeroed = memory.contains(n, needed) && memory.bytes(n, needed).every((b) => b === 0);
    return { at, aligned: n % align === 0, allocated: allocator.sizeOf(n) ?? 0, needed, zeroed };
  });
  return {
    outcome: "threw" in outcome ? outcome : { returned: "addresses" },
    areas,
    left: allocator.count - count,
    leaked: available - allocator.available,
    asked,
  };
}

const hexOf = (v: unknown) => typeof v === "number" ? `0x${v.toString(16)}` : show.value(v);
const area = (a: Area) =>
  `${hexOf(a.at)} (${a.allocated} of ${a.needed} bytes allocated, ${
    a.aligned ? "aligned" : "misaligned"
  }, ${a.zeroed ? "zeroed" : "not all zero"})`;
type AllocationCase = [size: number, layout: string, room: string];
const allocation = ruleFor<Impl, AllocationCase, Allocation>({
  run: (impl, size, given, room) => allocate(impl.allocateQueueAreas, size, given, room),
  reference: (size, given, room) => allocate(referenceAllocate, size, given, room),
  key: (size, given, room) => `${size} ${given} ${room}`,
  show: (size, given, room) => `allocateQueueAreas(allocator, ${size}, layout), ${given}, ${room}`,
  result: (r) =>
    ("threw" in r.outcome ? show.outcome(r.outcome) : "returned") +
    (r.areas.length
      ? `: table at ${area(r.areas[0])}, available ring at ${area(r.areas[1])}, used ring at ${
        area(r.areas[2])
      }`
      : "") +
    `; ${r.left} allocation(s) left, layout asked for eventIdx [${r.asked.join(", ")}]`,
}, { hint: 2 });
const PLACED = every(
  [1, 8, 256, 4096].flatMap((n) =>
    [REFERENCE, ROOMY].flatMap((l) => [PLENTY, SKEWED].map((r): AllocationCase => [n, l, r]))
  ),
);

// ------------------------------------------------------------ queueAreaProblem

const placed = ruleFor<Impl, [name: string], RuleProblem | null>({
  run: (impl, name) => impl.queueAreaProblem(placement(name).registers, placement(name).context),
  reference: (name) => referenceCheck(placement(name).registers, placement(name).context),
  key: (name) => name,
  show: (name) =>
    `queueAreaProblem(registers, context) for ${name}: ${describePlacement(placement(name))}`,
  result: (r) => r === null ? "null (the queue may go live)" : `a problem with id "${r.id}"`,
  shape: problemShape,
}, { hint: 2 });

/** The lab's register file with the learner's check, and a driver enabling queue 0 by hand. */
function throughRegisterFile(check: Impl["queueAreaProblem"], desc: number) {
  const dev = deviceFixture({
    strict: false,
    featuresOk: true,
    parts: { queueAreaProblem: check },
  });
  const at = dev.memory.base;
  const writes = [[R.VIRTIO_MMIO_QUEUE_SEL, 0], [R.VIRTIO_MMIO_QUEUE_NUM, 8]];
  writes.push([R.VIRTIO_MMIO_QUEUE_DESC_LOW, at + desc], [
    R.VIRTIO_MMIO_QUEUE_AVAIL_LOW,
    at + 0x2000,
  ]);
  writes.push([R.VIRTIO_MMIO_QUEUE_USED_LOW, at + 0x3000], [R.VIRTIO_MMIO_QUEUE_READY, 1]);
  for (const [offset, value] of writes) dev.raw.write32(offset, value);
  const ready = dev.raw.read32(R.VIRTIO_MMIO_QUEUE_READY);
  return { ready, logged: dev.log.entries.map((v) => v.id) };
}
const registerFile = ruleFor<Impl, [desc: number], ReturnType<typeof throughRegisterFile>>({
  run: (impl, desc) => throughRegisterFile(impl.queueAreaProblem, desc),
  reference: (desc) => throughRegisterFile(referenceCheck, desc),
  show: (desc) => `a driver enabling 8 descriptors with the table at RAM + 0x${desc.toString(16)}`,
  verb: "read",
  result: (r) => `QueueReady ${r.ready}, the log holding [${r.logged.join(", ")}]`,
});

export const grader = defineGrader<Impl>({
  lesson: "virtqueue-layout",
  checks: [
    // --------------------------------------------------- the layout
    layout({
      name: "a Queue Size is a power of two from 1 to 32768",
      requirement: "2.7/D1",
      hint: 2,
      cases: every(
        [0, 3, 6, 100, 255, 257, 32767, 65536, 1.5, 0.5, -8, 2 ** 31, 2 ** 32, 1, 32768]
          .flatMap((n): LayoutCase[] => [[n, undefined], [n, false]]),
      ),
      verdict: (o) => "threw" in o ? thrownFields(o) : "returned",
      why: "a QueueSizeError with that size for anything else, a layout for a Queue Size",
    }),
    layout({
      name: "the descriptor table: 16 bytes a descriptor",
      requirement: "2.7/D2",
      cases: LAYOUTS,
      ...pick("size", "descTableSize"),
      why: "the size asked for, and 16 bytes (addr, len, flags, next) per descriptor",
    }),
    layout({
      name: "the available ring: flags, idx, ring[size], and used_event with event idx",
      requirement: "2.7/D2",
      cases: LAYOUTS,
      ...pick("availRingSize"),
      why: "2 bytes each for flags and idx, 2 per entry, and 2 for used_event with event idx",
      note: smaller("availRingSize"),
    }),
    layout({
      name: "the used ring: flags, idx, 8-byte elements, and avail_event with event idx",
      requirement: "2.7/D2",
      cases: LAYOUTS,
      ...pick("usedRingSize"),
      why: "2 bytes each for flags and idx, 8 per element ({ le32 id; le32 len; }), and 2 " +
        "for avail_event with event idx",
      note: smaller("usedRingSize"),
    }),
    layout({
      name: "each part's alignment: 16, 2 and 4 bytes",
      requirement: "2.7.1/1",
      cases: LAYOUTS,
      ...pick("descTableAlign", "availRingAlign", "usedRingAlign"),
      why: "the alignments of the table in §2.7, which are minimums, not pages",
    }),
    layout({
      name: "used_event and avail_event follow the last ring entry, with event idx only",
      requirement: "2.7/D2",
      cases: LAYOUTS,
      ...pick("eventIdx", "usedEventOffset", "availEventOffset"),
      why: "eventIdx as given (true when left out), and the offsets right after ring[size], " +
        "or null without event idx",
    }),
    // --------------------------------------------------- the allocation
    allocation({
      name: "each area starts on the alignment the layout gives",
      requirement: "2.7.1/1",
      cases: PLACED,
      verdict: (r) => ({ outcome: r.outcome, aligned: r.areas.map((a) => a.aligned) }),
      why: "three addresses, each a multiple of the layout's alignment for its part",
    }),
    allocation({
      name: "each area is its own allocation, as large as the layout says",
      requirement: "2.7/D2",
      cases: PLACED,
      verdict: (r) => ({
        big: r.areas.map((a) => a.allocated >= a.needed),
        apart: new Set(r.areas.map((a) => a.at)).size,
        left: r.left,
        asked: r.asked.length > 0 && r.asked.every(Boolean),
      }),
      why: "three live allocations of at least the layout's sizes (the layout asked with " +
        "eventIdx true), nothing else left allocated",
    }),
    allocation({
      name: "the areas come zeroed, whatever the memory held",
      requirement: "2.7.10.1/1",
      cases: PLACED,
      verdict: (r) => r.areas.map((a) => a.zeroed),
      why: "every byte of the three parts 0 (the memory held 0xa5), the used ring's flags first",
    }),
    allocation({
      name: "when an area does not fit, nothing stays allocated",
      requirement: "2.7/D2",
      cases: every(
        [[8, TIGHT], [256, TIGHT], [8, NONE], [100, PLENTY], [0, PLENTY]]
          .map(([n, room]): AllocationCase => [n as number, REFERENCE, room as string]),
      ),
      verdict: (r) => ({ threw: thrownFields(r.outcome).name, left: r.left, leaked: r.leaked }),
      why: "the allocator's GuestOutOfMemoryError (the layout's QueueSizeError for a size " +
        "that is none), and every area already allocated freed",
    }),
    // --------------------------------------------------- the device's check
    placed({
      name: "QueueReady needs a QueueNum first",
      requirement: "4.2.3.2/D1",
      hint: 1,
      ...judging("num", "4.2.3.2/D1 for a queue with no QueueNum (2.6.1.2.2/1 after a reset)"),
    }),
    placed({
      name: "a Queue Size the device can use",
      requirement: "2.7/D1",
      hint: 1,
      ...judging("size", "2.7/D1 for a QueueNum that is not a power of two from 1 to 32768"),
    }),
    placed({
      name: "no larger than QueueNumMax",
      requirement: "4.2.2.2/9",
      hint: 1,
      ...judging("max", "4.2.2.2/9 for a QueueNum above QueueNumMax"),
    }),
    placed({
      name: "each area on its own alignment: 16, 2 and 4 bytes",
      requirement: "2.7.1/1",
      ...judging("align", "2.7.1/1 for an area off its alignment, nothing stricter than 16, 2, 4"),
    }),
    placed({
      name: "every area inside RAM, all 64 bits of its address counted",
      requirement: "2.7.5/D2",
      hint: 4,
      ...judging(
        "ram",
        "2.7.5/D2 for an area not wholly inside RAM, one ending on its last byte fine",
      ),
      note: (got, _want, name) =>
        name.includes("last byte") && got !== null ? FIRECRACKER_NOTE : undefined,
    }),
    placed({
      name: "no two areas overlap",
      requirement: "2.7/D2",
      hint: 3,
      ...judging("overlap", "2.7/D2 for areas sharing a byte, with the lengths the device touches"),
      note: (got, _want, name) =>
        name.includes("8 bytes after") && got === null ? NETBSD_NOTE : undefined,
    }),
    registerFile({
      name: "your check keeps a misplaced queue out of the lab's register file",
      requirement: "2.7.1/1",
      hint: 2,
      cases: every([[0x1008], [0x1000]]),
      why: "QueueReady reading 0 and 2.7.1/1 logged for a table 8 bytes off its alignment, " +
        "QueueReady 1 and nothing logged for a well-placed queue",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "virtqueue-layout",
      name: "your layout, allocation and check run the lab machine",
      requirement: "2.7.1/1",
      hint: 4,
      expects: "the lab machine, its queues laid out by your splitQueueLayout, allocated by " +
        "your allocateQueueAreas and checked by your queueAreaProblem on a strict log, to " +
        "bring up every queue and carry console and disk traffic",
      lesson,
      also(machine) {
        for (const d of [machine.blk, machine.console]) {
          for (const [index, q] of d.driverTransport.queues) {
            const l = refLayout(q.size, true);
            const { descAddr, availAddr, usedAddr } = q.addresses;
            const got = [descAddr, availAddr, usedAddr].map((a) =>
              machine.allocator.sizeOf(a) ?? 0
            );
            const need = [l.descTableSize, l.availRingSize, l.usedRingSize];
            expect(got.every((n, i) => n >= need[i]), {
              observed: `the allocations behind queue ${index} of ${d.device.name} hold ` +
                `[${got.join(", ")}] bytes`,
              expected: `each area a live allocation of at least [${need.join(", ")}] bytes`,
            });
          }
        }
      },
    }),
  ],
});
