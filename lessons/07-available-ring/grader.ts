/**
 * The grader of lesson 7, "Making buffers available".
 *
 * Driver side: `placeAvailEntry` and `publishAvail` on rings of 1 to 16
 * entries started all around the 16-bit plane (0, 0x7fff, 0xfffd, 0xffff...),
 * with none to Queue Size heads placed: every store they make, by address
 * and value, and the record after; the available ring's `flags` left alone;
 * then the concurrent observer of the kit runs the reference device after
 * every single store (no chain may be taken before it is whole), and a long
 * workload across the wrap must never look to the device like idx moving
 * back. Device side: `availableCount` over the whole 16-bit plane, with an
 * idx that changes after its first read; `availHead` on good heads, heads
 * beyond the table, heads in flight and bad flags; then the kit's hostile
 * available rings through the device half. Last, the lab machine.
 *
 * @module
 */

import { defineGrader, fail } from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import { addChain } from "../../virtqueue/driver/add.ts";
import { placeAvailEntry, publishAvail } from "../../virtqueue/driver/avail.ts";
import { availableCount, availHead } from "../../virtqueue/device/avail.ts";
import { availRingEntryOffset, VIRTQ_AVAIL_IDX_OFFSET } from "../../virtqueue/layout.ts";
import * as show from "../kit/format.ts";
import { attempt, every, type Outcome, ruleFor } from "../kit/rules.ts";
import { machineCheck } from "../kit/machine.ts";
import { type RingFixture, ringFixture } from "../kit/ring.ts";
import { ringScenario, storeOrderCheck } from "../kit/ring_checks.ts";
import { doubleFetch } from "../kit/double_fetch.ts";

type Impl = typeof Exercise;
const STARTS = [0, 3, 0x7fff, 0xfffd, 0xffff];
const HEADS = (n: number) => Array.from({ length: n }, (_, k) => k);

/** Every store of a step, as `place=value`, in order (loads left out). */
function storesOf(f: RingFixture, step: () => unknown) {
  const log = f.memory.record();
  const outcome = attempt(step);
  f.memory.record(false);
  const stores = log.filter((a) => a.kind !== "load")
    .map((a) => `${f.place(a.address) ?? show.memoryAccess(a)}=${show.value(a.value)}`);
  return { outcome, stores };
}

// ------------------------------------------------------------ the driver's side

/** A ring of `size` at `start`, with `placed` chains added (placed, not published). */
type DriverCase = [size: number, start: number, placed: number, flags?: number];
function driverRing(size: number, start: number, placed: number, flags = 0) {
  const f = ringFixture({ size, startIdx: start, ramSize: 0x8000 });
  f.memory.quietly(() => {
    f.memory.writeU16(f.addresses.availAddr, flags);
    for (let k = 0; k < placed; k++) f.driverQueue.add([f.buffer(16)], [], `chain ${k}`);
  });
  return f;
}
const recordOf = (f: RingFixture) => ({
  availIdx: f.driver.availIdx,
  added: f.driver.added,
  pending: [...f.driver.pending.subarray(0, Math.max(0, Math.min(f.driver.added, f.size)))],
  published: f.driver.published,
  state: [...f.driver.state],
  idx: f.availIdx(),
  flags: f.memory.quietly(() => f.memory.readU16(f.addresses.availAddr)),
});
type DriverRun = ReturnType<typeof storesOf> & { record: ReturnType<typeof recordOf> };
function runPlace(place: Impl["placeAvailEntry"], ...c: DriverCase): DriverRun {
  const f = driverRing(c[0], c[1], c[2], c[3]);
  const head = f.memory.quietly(() => addChain(f.driver, [f.buffer(8)], [], "this chain"));
  return { ...storesOf(f, () => place(f.driver, head)), record: recordOf(f) };
}
function runPublish(publish: Impl["publishAvail"], ...c: DriverCase): DriverRun {
  const f = driverRing(c[0], c[1], c[2], c[3]);
  return { ...storesOf(f, () => publish(f.driver)), record: recordOf(f) };
}
const showDriver = (c: DriverCase) =>
  `on a ring of ${c[0]} at idx ${show.ringIdx(c[1], c[0])} with ${c[2]} head(s) placed${
    c[3] ? ` and flags ${c[3]}` : ""
  }`;
const showRun = (o: DriverRun) =>
  `${show.outcome(o.outcome)}, stored [${o.stores.join(", ")}], left ${show.value(o.record)}`;
const place = ruleFor<Impl, DriverCase, DriverRun>({
  run: (impl, ...c) => runPlace(impl.placeAvailEntry, ...c),
  reference: (...c) => runPlace(placeAvailEntry, ...c),
  show: (...c) => `placeAvailEntry(ring, head) ${showDriver(c)}`,
  result: showRun,
}, { hint: 2 });
const publish = ruleFor<Impl, DriverCase, DriverRun>({
  run: (impl, ...c) => runPublish(impl.publishAvail, ...c),
  reference: (...c) => runPublish(publishAvail, ...c),
  show: (...c) => `publishAvail(ring) ${showDriver(c)}`,
  result: showRun,
}, { hint: 2 });
/** Rings of each size at each start, with each number of heads placed that `placed` gives. */
const grid = (sizes: number[], starts: number[], placed: (size: number) => number[]) =>
  every(
    sizes.flatMap((size) =>
      starts.flatMap((start) =>
        [...new Set(placed(size))].map((p) => [size, start, p] as DriverCase)
      )
    ),
  );
const PLACING = grid([1, 2, 4, 8, 16], STARTS, (size) => [0, 1, size - 1].filter((p) => p < size));
const PUBLISHING = grid(
  [1, 4, 8, 16],
  [0, 7, 0x7ffe, 0xfffc, 0xfffe, 0xffff],
  (size) => [0, 1, 2, size].filter((p) => p <= size),
);

// ------------------------------------------------------------ the device's side

interface DeviceCase {
  size: number;
  last: number; // the device's lastAvail
  idx?: number; // the available idx, as a distance from last (default 1)
  head?: number; // in ring[last mod size] (default 0)
  inUse?: boolean; // the device holds that head
  flags?: number[]; // available ring flags for each call (one call each)
  broken?: boolean;
  refetch?: number; // idx turns into last + refetch after its first read
}
function deviceRing(c: DeviceCase) {
  const f = ringFixture({ size: c.size, startIdx: c.last, ramSize: 0x8000 });
  f.memory.quietly(() => {
    f.setAvailIdx(c.last + (c.idx ?? 1));
    const slot = f.addresses.availAddr + availRingEntryOffset(c.last & (c.size - 1));
    f.memory.writeU16(slot, c.head ?? 0);
    if (c.inUse) f.device.inUse[c.head ?? 0] = 1;
    if (c.broken) f.device.broken = { id: "2.7.5/D3" } as typeof f.device.broken;
  });
  if (c.refetch !== undefined) {
    const address = f.addresses.availAddr + VIRTQ_AVAIL_IDX_OFFSET;
    doubleFetch(f.memory, { address, width: 2, then: (c.last + c.refetch) & 0xffff });
  }
  return f;
}
interface DeviceRun {
  outcome: Outcome<number[]>;
  lastAvail: number;
  reported: string[];
  broken: number;
  stores: string[];
}
function runDevice(part: (ring: RingFixture["device"]) => number, c: DeviceCase): DeviceRun {
  const f = deviceRing(c);
  const calls = (c.flags ?? [0]).map((flags) => () => {
    f.memory.quietly(() => f.memory.writeU16(f.addresses.availAddr, flags));
    return part(f.device);
  });
  const { outcome, stores } = storesOf(f, () => calls.map((call) => call()));
  return {
    outcome: outcome as Outcome<number[]>,
    lastAvail: f.device.lastAvail,
    reported: f.log.entries.map((v) => v.id),
    broken: f.broken.length,
    stores,
  };
}
const showDevice = (c: DeviceCase) =>
  `lastAvail ${show.ringIdx(c.last, c.size)}, idx ${
    show.ringIdx((c.last + (c.idx ?? 1)) & 0xffff)
  }` +
  (c.head !== undefined ? `, ring[${c.last & (c.size - 1)}] = ${c.head}` : "") +
  (c.inUse ? " (a head the device holds)" : "") + (c.broken ? ", on a broken ring" : "") +
  (c.refetch !== undefined
    ? `, idx changing to ${show.ringIdx((c.last + c.refetch) & 0xffff)} after its first read`
    : "") +
  (c.flags && c.flags.some(Boolean) ? `, flags ${c.flags.join(" then ")}` : "");
const showDeviceRun = (o: DeviceRun) =>
  `${show.outcome(o.outcome)}, lastAvail ${show.ringIdx(o.lastAvail)}, ` +
  `reported [${o.reported.join(", ")}]${o.broken ? " and broke the ring" : ""}` +
  (o.stores.length ? `, stored [${o.stores.join(", ")}]` : "");
const device = (name: "availableCount" | "availHead", reference: typeof availHead) =>
  ruleFor<Impl, [DeviceCase], DeviceRun>({
    run: (impl, c) => runDevice(impl[name], c),
    reference: (c) => runDevice(reference, c),
    show: (c) => `${name}(ring) on a ring of ${c.size}: ${showDevice(c)}`,
    result: showDeviceRun,
  }, { hint: 3 });
const count = device("availableCount", availableCount);
const take = device("availHead", availHead);
const counts = (size: number, distances: number[]) =>
  STARTS.flatMap((last) => distances.map((idx) => [{ size, last, idx }] as [DeviceCase]));
const refused = (name: string, id: RequirementId, cases: DeviceCase[], part = count, note = "") =>
  part({
    name,
    requirement: id,
    cases: every(cases.map((c) => [c] as [DeviceCase])),
    verdict: ({ lastAvail: _, ...rest }) => rest,
    why: (want) =>
      `the driver's mistake reported as ${want.reported.join(", ")}, the ring broken once, ` +
      "nothing thrown or stored",
    note: () => note || undefined,
  });

export const grader = defineGrader<Impl>({
  lesson: "available-ring",
  checks: [
    // --------------------------------------------------- placing and publishing
    place({
      name: "placeAvailEntry writes the head into slot (idx + added) mod Queue Size",
      requirement: "2.7.13.2/D1",
      hint: 1,
      cases: PLACING,
      verdict: (o) => ({ outcome: o.outcome, stores: o.stores }),
      why:
        "one 16-bit store of the head into ring[(availIdx + added) mod Queue Size], and no other",
    }),
    place({
      name: "placeAvailEntry keeps the head pending, idx where it was",
      requirement: "2.7.13.2/D1",
      cases: PLACING,
      verdict: (o) => ({
        availIdx: o.record.availIdx,
        added: o.record.added,
        pending: o.record.pending,
      }),
      why: "added one more, the head last in pending, availIdx and idx unchanged",
    }),
    publish({
      name: "publishAvail moves idx by the number placed, modulo 2^16",
      requirement: "2.7.13.3/D1",
      cases: PUBLISHING,
      // With nothing placed, storing idx again changes nothing: the contract allows it.
      verdict: (o, _s, _i, placed) => ({
        outcome: o.outcome,
        idx: o.record.idx,
        availIdx: o.record.availIdx,
        stores: placed ? o.stores : 0,
      }),
      why: "idx and availIdx moved by the heads placed, wrapping at 0x10000, in one 16-bit store " +
        "to idx (none with nothing placed), and that number returned",
      note: (got, want, size) =>
        got.record.idx !== want.record.idx && got.record.idx === want.record.idx % size
          ? 'A free-running index is never kept modulo Queue Size: xv6 writes "not % NUM" next ' +
            "to its idx increment (xv6-riscv aeaf610)."
          : undefined,
    }),
    publish({
      name: "publishAvail hands the heads to the device and starts a new batch",
      requirement: "2.7.13.3/D1",
      cases: PUBLISHING,
      verdict: (o) => ({
        state: o.record.state,
        published: o.record.published,
        added: o.record.added,
      }),
      why: "each head placed since the last publish HEAD_PUBLISHED, published that many more, " +
        "added back to 0",
    }),
    publish({
      name: "publishing leaves the available ring's flags alone",
      requirement: "2.7.7.1/1",
      cases: every(
        [[8, 0xfffe, 2, 1], [4, 0, 4, 1], [1, 0xffff, 1, 1], [16, 0x7ffe, 0, 1]] as DriverCase[],
      ),
      verdict: (o, _s, _i, placed) => ({ flags: o.record.flags, stores: placed ? o.stores : 0 }),
      why: "the driver's VIRTQ_AVAIL_F_NO_INTERRUPT kept: publishing stores only idx",
    }),
    storeOrderCheck<Impl>({
      side: "driver",
      hint: 2,
      parts: (impl) => ({ placeAvailEntry: impl.placeAvailEntry, publishAvail: impl.publishAvail }),
    }),
    {
      name: "across the 16-bit wrap, the device sees idx only move forward",
      requirement: "2.7.6.1/1",
      hint: 2,
      expects: "a long workload on rings started just before idx wraps, published by your parts " +
        "and taken by the reference device, with no rule broken and every chain taken",
      run(impl) {
        for (const [size, start] of [[4, 0xfff9], [8, 0xfff1], [16, 0xffe0]]) {
          const parts = { placeAvailEntry: impl.placeAvailEntry, publishAvail: impl.publishAvail };
          const f = ringFixture<number>({ size, startIdx: start, driver: parts });
          const posted = ringScenario(f, { rounds: 48, seed: size });
          const v = f.log.entries[0];
          const idx = (start + posted) & 0xffff;
          if (!v && f.availIdx() === idx) continue;
          fail({
            observed: `on a ring of ${size} starting at ${show.ringIdx(start)}, after ${posted} ` +
              `chains, ${
                v
                  ? `the device reported ${show.violation(v)}`
                  : `idx is ${show.ringIdx(f.availIdx())}`
              }`,
            expected: `idx ${show.ringIdx(idx)}, moved one step per chain, and no rule broken`,
            requirement: v?.id,
          });
        }
      },
    },
    // --------------------------------------------------- counting and taking
    count({
      name: "availableCount is idx - lastAvail over the whole 16-bit plane",
      requirement: "2.7.6/D1",
      cases: every([
        ...counts(8, HEADS(9)),
        ...counts(1, [0, 1]),
        ...counts(256, [0, 1, 255, 256]),
        [{ size: 8, last: 0xfffe, idx: 4, broken: true }],
      ]),
      verdict: (o) => ({
        outcome: o.outcome,
        lastAvail: o.lastAvail,
        reported: o.reported,
        stores: o.stores,
      }),
      why: "the distance from lastAvail to idx, modulo 2^16, nothing reported or stored " +
        "(0 on a broken ring)",
    }),
    refused(
      "an idx more than Queue Size ahead is refused",
      "2.7.6/D1",
      [...counts(8, [9, 10, 0x100, 0x7fff, 0x8000]), ...counts(1, [2])].flat(),
      count,
      "Case file: a device that believed idx (rust-vmm/vm-virtio PR #196, Firecracker PR #3156; " +
        "QEMU CVE-2016-5403).",
    ),
    refused(
      "an idx that moved back is refused",
      "2.7.6.1/1",
      counts(8, [0xffff, 0xfff8, 0x8001]).flat(),
    ),
    count({
      name: "availableCount reads idx once",
      requirement: "2.7.6/D1",
      cases: every([
        [{ size: 8, last: 0xfffe, idx: 2, refetch: 0x20 }],
        [{ size: 8, last: 5, idx: 3, refetch: -1 }],
        [{ size: 8, last: 0, idx: 0, refetch: 4 }],
      ]),
      verdict: (o) => ({ outcome: o.outcome, reported: o.reported }),
      why: "one read of idx, checked and used: a driver changing it in between changes nothing",
      note: () =>
        "Checking one read of a guest field and using another is a double fetch " +
        "(FreeBSD-SA-24:17.bhyve, for a descriptor's length).",
    }),
    take({
      name: "availHead takes ring[lastAvail mod Queue Size] and moves lastAvail on",
      requirement: "2.7.13.2/D1",
      cases: every([
        ...[1, 8, 16].flatMap((size) =>
          STARTS.flatMap((last) =>
            [0, size - 1].map((head) => [{ size, last, head }] as [DeviceCase])
          )
        ),
        [{ size: 8, last: 3, head: 2, broken: true }],
      ]),
      // On a broken ring lastAvail means nothing: the contract leaves it.
      verdict: (o, c) => ({
        outcome: o.outcome,
        lastAvail: c.broken ? 0 : o.lastAvail,
        reported: o.reported,
        stores: o.stores,
      }),
      why: "the head in that slot, lastAvail one more modulo 2^16, nothing reported or stored " +
        "(-1 on a broken ring)",
    }),
    refused("a head beyond the table is refused", "2.7.5/D1", [
      { size: 8, last: 0, head: 8 },
      { size: 8, last: 0xffff, head: 9 },
      { size: 1, last: 3, head: 1 },
      { size: 16, last: 0x7fff, head: 0xffff },
    ], take),
    refused("a head the device still holds is refused", "2.7.6/D2", [
      { size: 8, last: 2, head: 5, inUse: true },
      { size: 4, last: 0xffff, head: 0, inUse: true },
    ], take),
    take({
      name: "available ring flags the rules do not allow are logged, once each",
      requirement: "2.7.7.1/1",
      cases: every(
        [[2], [3, 3], [1, 1], [0x8000, 0, 0x8000], [4, 6]].map((flags) =>
          [{ size: 8, last: 0xfffe, idx: 2, flags }] as [DeviceCase]
        ),
      ),
      verdict: (o) => ({ outcome: o.outcome, reported: o.reported, broken: o.broken }),
      why: "each bad value logged once in a row (2.7.7.1/1), VIRTQ_AVAIL_F_NO_INTERRUPT alone " +
        "not at all, and the heads taken all the same",
    }),
    machineCheck<Impl>({
      id: "available-ring",
      requirement: "2.7.13.3.1/1",
      hint: 4,
      expects: "the lab machine, with your available ring code on both sides of every queue and " +
        "a strict log, to bring both devices up and carry console and disk traffic",
      lesson,
    }),
  ],
});
