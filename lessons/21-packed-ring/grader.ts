/**
 * The grader of "The packed virtqueue".
 *
 * Device side: `descAvailablePacked` over every AVAIL/USED pair, wrap
 * counter and other flag bits; `walkPackedChain` on the kit's lists (valid
 * ones at each rule's edge: round the ring's end, exactly Queue Size, a
 * wrap-0 lap, RAM's last byte; and one per refusal), by its record, the
 * positions it leaves and the ids it reports; `pushUsedPacked` at the ring's
 * end and with buffers of every slot count, by its stores and their order.
 * Driver side: `addPacked` on rings in many states, descriptor by
 * descriptor, store order, record, and every refusal; `getBufPacked` on used,
 * not-yet-used and hostile used descriptors. Then each half against the
 * reference's other half, out of order over some 60 laps of a 5-slot ring,
 * and the lab machine on packed rings.
 *
 * @module
 */

import { defineGrader, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import type { RequirementId } from "../../conformance/requirements.ts";
import {
  descAvailablePacked,
  pushUsedPacked,
  walkPackedChain,
} from "../../virtqueue/packed/device_ring.ts";
import { addPacked, getBufPacked } from "../../virtqueue/packed/driver_ring.ts";
import { hasFeature, VIRTIO_F_RING_PACKED } from "../../virtio/features.ts";
import { every, ruleFor } from "../kit/rules.ts";
import { machineCheck } from "../kit/machine.ts";
import {
  ADD_CASES,
  type AddCase,
  addOrder,
  type AddRun,
  FLAG_CASES,
  type FlagCase,
  PACKED_LISTS,
  type PackedList,
  packedRoundTrips,
  type PackedRun,
  PUSH_CASES,
  type PushCase,
  pushFields,
  type PushRun,
  REAP_CASES,
  type ReapCase,
  type ReapRun,
  runAdd,
  runPoll,
  runPush,
  runReap,
  runWalk,
  showAdd,
  showAddRun,
  showLogged,
  showOutcome,
  showPoll,
  showPush,
  showPushRun,
  showReap,
  showReapRun,
  showWalk,
  showWalkRun,
  type WalkRun,
} from "../kit/packed.ts";

type Impl = typeof Exercise;
const OPENVMM_WRAP = "Case file: openvmm PR #2983 fixed a packed-ring device that did not wrap a " +
  "list's next slot back to 0 at the ring's end, so a list near the end ran off the ring.";
const OPENVMM_STALE = "Case file: openvmm PR #3990 flipped the wrap counter only when the new " +
  "position was below the old one, missing a list of exactly Queue Size: the queue stalled.";
const returned = (
  o: PackedRun<unknown>,
) => ("returned" in o.outcome ? o.outcome.returned : "threw");
const cases = <C>(list: readonly C[], keep: (c: C) => boolean = () => true) =>
  every(list.filter(keep).map((c) => [c] as [C]));
const START = { pos: 0, wrap: 1 };

// ------------------------------------------------------------ the device

const poll = ruleFor<Impl, FlagCase, PackedRun<boolean>>({
  run: (impl, ...c) => runPoll(c, impl.descAvailablePacked),
  reference: (...c) => runPoll(c, descAvailablePacked),
  show: (...c) => showPoll(c),
  result: (o) => `${showOutcome(o)}, ${showLogged(o)}, ${o.stores.length} store(s)`,
}, { cases: every(FLAG_CASES), hint: 2 });

const walk = ruleFor<Impl, [PackedList], WalkRun>({
  run: (impl, c) => runWalk(c, impl.walkPackedChain),
  reference: (c) => runWalk(c, walkPackedChain),
  show: showWalk,
  result: showWalkRun,
}, { hint: 3 });
const valid = (c: PackedList) => c.rule === null;
const nearEnd = (c: PackedList) => (c.at ?? START).pos + c.list.length > (c.size ?? 4);
const refusal = (id: RequirementId) =>
  walk({
    name: `the walk refuses a list that breaks ${id}`,
    requirement: id,
    hint: 2,
    cases: cases(PACKED_LISTS, (c) => c.rule === id),
    verdict: (o) => ({
      returned: returned(o),
      ids: o.ids,
      broken: o.broken,
      stores: o.stores.length,
    }),
    agrees: (got, want, c) =>
      got.returned === null && got.broken && got.stores === 0 && got.ids.length > 0 &&
      got.ids.every((i) => i === want.ids[0] || (c.fair ?? []).includes(i)),
    why:
      "the list refused through breakPackedDeviceRing with its id: null returned, ring broken, " +
      "nothing stored",
  });

const push = ruleFor<Impl, [PushCase], PushRun>({
  run: (impl, c) => runPush(c, impl.pushUsedPacked),
  reference: (c) => runPush(c, pushUsedPacked),
  show: showPush,
  result: showPushRun,
}, { cases: cases(PUSH_CASES), hint: 2 });

// ------------------------------------------------------------ the driver

const placed = (c: AddCase) => c.r.length + c.w.length > 0 && !/than|length|outside/.test(c.name);
const add = ruleFor<Impl, [AddCase], AddRun>({
  run: (impl, c) => runAdd(c, impl.addPacked),
  reference: (c) => runAdd(c, addPacked),
  show: showAdd,
  result: showAddRun,
}, { cases: cases(ADD_CASES, placed), hint: 3 });
const order = (o: AddRun, c: AddCase) =>
  addOrder(o, c.r.length + c.w.length, c.at ?? START, c.size ?? 4);
const refusedFor = (o: AddRun): RequirementId | undefined => {
  if (!("threw" in o.outcome)) return undefined;
  const rule = o.outcome.threw.rule;
  return typeof rule === "string" ? rule as RequirementId : "2.8.17/5";
};
const whole = (c: AddCase) => c.r.length + c.w.length === (c.size ?? 4);

const reap = ruleFor<Impl, [ReapCase], ReapRun>({
  run: (impl, c) => runReap(c, impl.getBufPacked),
  reference: (c) => runReap(c, getBufPacked),
  show: showReap,
  result: showReapRun,
}, { hint: 3 });
const hostile = (c: ReapCase) => /Buffer ID|more bytes/.test(c.name);
const refusedReap = (o: ReapRun) => ({
  ids: o.ids,
  broken: o.broken,
  detached: o.detached,
  returned: returned(o),
});

export const grader = defineGrader<Impl>({
  lesson: "packed-ring",
  checks: [
    poll({
      name: "a descriptor is available when AVAIL is the wrap counter and USED its inverse",
      requirement: "2.8.15/2",
      verdict: (o) => ({ returned: returned(o), stores: o.stores.length }),
      why:
        "true exactly for AVAIL = availWrap and USED = 1 - availWrap, whatever the other bits; " +
        "nothing stored",
    }),
    poll({
      name: "AVAIL and USED both equal to the wrap counter break the ring",
      requirement: "2.8.1/D1",
      verdict: (o) => ({ ids: o.ids, broken: o.broken }),
      why: "2.8.1/D1 reported (ring broken) for AVAIL = USED = availWrap, nothing otherwise",
    }),
    walk({
      name: "a valid list comes back whole, its Buffer ID from the last descriptor",
      requirement: "2.8.18/1",
      cases: cases(PACKED_LISTS, valid),
      verdict: (o) => ({
        returned: returned(o),
        kept: o.kept,
        ids: o.ids,
        stores: o.stores.length,
      }),
      why:
        "the record: elements in list order by WRITE, their totals, descriptorCount and slots, " +
        "head = the last descriptor's id, inUse false, kept in ring.chains; nothing stored",
      note: (got, _w, c) => (nearEnd(c) && got.ids.length > 0 ? OPENVMM_WRAP : undefined),
    }),
    walk({
      name: "the walk leaves nextAvail past the list, the wrap counter flipped at the ring's end",
      requirement: "2.8.15/2",
      cases: cases(PACKED_LISTS, valid),
      verdict: (o) => o.after,
      why:
        "nextAvail at the slot after the list's last descriptor, availWrap flipped if the list " +
        "went past the ring's end",
      note: (got, want, c) =>
        c.list.length === (c.size ?? 4) && got.after.wrap !== want.after.wrap
          ? OPENVMM_STALE
          : undefined,
    }),
    walk({
      name: "an indirect descriptor is a list of one, recorded in ring.indirectDesc",
      requirement: "2.8.19/4",
      cases: cases(PACKED_LISTS, (c) => valid(c) && c.list.some((d) => d.i)),
      verdict: (o) => ({ desc: o.indirectDesc, returned: returned(o) }),
      why: "indirect: true, no elements, 1 slot; ring.indirectDesc = its position, addr and len",
    }),
    refusal("2.8.17/6"),
    refusal("2.8.17/2"),
    refusal("2.8.17/3"),
    refusal("2.8.4/D1"),
    refusal("2.8.19/1"),
    refusal("2.8.19/4"),
    refusal("2.8.6/D1"),
    push({
      name: "the used descriptor carries the Buffer ID, len, and AVAIL = USED = usedWrap",
      requirement: "2.8.12/2",
      verdict: (o) => pushFields(o, false),
      why: "id and len stored at nextUsed, and flags AVAIL|USED on wrap 1, neither on wrap 0",
    }),
    push({
      name: "VIRTQ_DESC_F_WRITE is set exactly when bytes were written",
      requirement: "2.8.3/D1",
      verdict: (o) => pushFields(o),
      why: "the flags with VIRTQ_DESC_F_WRITE when len > 0, without it when len is 0",
    }),
    push({
      name: "the used descriptor's flags are its last store, and nothing else is stored",
      requirement: "2.8.15/3",
      verdict: (o) => ({ last: o.stores.at(-1)?.at.replace(/^desc \d+ /, ""), n: o.stores.length }),
      why: "three stores: id and len in either order, then flags",
    }),
    push({
      name: "nextUsed moves on by the buffer's slots, usedWrap flipped past the end",
      requirement: "2.8.12/2",
      verdict: (o) => ({ after: o.after, usedSinceSignal: o.usedSinceSignal }),
      why: "nextUsed + slots, wrapped, usedWrap flipped when it went past the end; " +
        "usedSinceSignal + slots",
      note: (got, want, [size, , slots]) =>
        slots === size && got.after.wrap !== want.after.wrap ? OPENVMM_STALE : undefined,
    }),
    add({
      name: "each descriptor holds its element, WRITE, NEXT, and AVAIL/USED by the wrap counter",
      requirement: "2.8.1/D1",
      verdict: (o) => o.descs,
      why: "element k in slot nextAvail + k: addr, len, WRITE if writable, NEXT on all but the " +
        "last, AVAIL = the slot's wrap counter and USED its inverse; the Buffer ID in the last",
    }),
    add({
      name: "the first descriptor's flags are the last store of all",
      requirement: "2.8.17/6",
      verdict: (o, c) => ({ last: order(o, c).lastStore, times: order(o, c).firstFlagsStores }),
      why: "the whole list written, then the first descriptor's flags, stored once, last",
    }),
    add({
      name: "each descriptor's flags come after its addr, len and id",
      requirement: "2.8.21.1.1/1",
      verdict: (o, c) => order(o, c).flagsAfterFields,
      why: "every descriptor's other fields stored before its flags",
    }),
    add({
      name: "the record after a buffer is made available",
      requirement: "2.8.17/5",
      verdict: (o) => o.record,
      why: "nextAvail and availWrap past the list, numFree - n, numAdded + n, freeHead the next " +
        "free id, inFlight + 1, and the Buffer ID's entries as the contract's table says",
      note: (got, want, c) =>
        whole(c) && got.record.availWrap !== want.record.availWrap ? OPENVMM_STALE : undefined,
    }),
    add({
      name: "a buffer that breaks the contract is refused with nothing changed",
      requirement: "2.8.17/2",
      cases: cases(ADD_CASES, (c) => !placed(c)),
      verdict: (o) => ({ outcome: o.outcome, stores: o.stores.length, record: o.record }),
      cites: refusedFor,
      why: "the error of the contract's table, thrown before any store, the record as it was",
    }),
    reap({
      name: "a used descriptor is one with AVAIL and USED both equal to usedWrap",
      requirement: "2.8.16/1",
      cases: cases(REAP_CASES, (c) => !hostile(c)),
      verdict: (o) => ({
        reaped: returned(o) !== null,
        detached: o.detached,
        stores: o.stores.length,
      }),
      why: "a buffer reaped (detach called once) exactly when both bits equal usedWrap; null, no " +
        "detach and nothing stored otherwise",
    }),
    reap({
      name: "the buffer comes back with len, or 0 without VIRTQ_DESC_F_WRITE",
      requirement: "2.8.3/D1",
      cases: cases(REAP_CASES, (c) => !hostile(c) && c.mark === "used"),
      verdict: (o) => returned(o),
      why: "{ token: what detach returned, len }, len read only when VIRTQ_DESC_F_WRITE is set",
    }),
    reap({
      name: "nextUsed skips the buffer's slots, usedWrap flipped past the end",
      requirement: "2.8.16/1",
      cases: cases(REAP_CASES, (c) => !hostile(c)),
      verdict: (o) => o.after,
      why: "nextUsed + descCount[id], wrapped, usedWrap flipped past the end; unchanged when " +
        "nothing was used",
      note: (got, want, c) =>
        c.inFlight?.[0]?.[1] === 4 && got.after.wrap !== want.after.wrap
          ? OPENVMM_STALE
          : undefined,
    }),
    reap({
      name: "a used descriptor naming no buffer in flight breaks the ring",
      requirement: "2.8.22/D1",
      cases: cases(REAP_CASES, (c) => /Buffer ID/.test(c.name)),
      verdict: refusedReap,
      why: "2.8.22/D1 reported, ring broken, null returned, no detach",
    }),
    reap({
      name: "a used len above the buffer's writable bytes breaks the ring",
      requirement: "2.8.4/D2",
      cases: cases(REAP_CASES, (c) => /more bytes/.test(c.name)),
      verdict: refusedReap,
      why: "2.8.4/D2 reported, ring broken, null returned, no detach",
    }),
    {
      name: "each half of yours runs with the reference's other half, out of order over 60 laps",
      requirement: "2.8.12/2",
      hint: 4,
      expects: "every buffer back at the driver with the len the device pushed, in completion " +
        "order, and no rule reported",
      run(impl: Impl) {
        const device = {
          descAvailablePacked: impl.descAvailablePacked,
          walkPackedChain: impl.walkPackedChain,
          pushUsedPacked: impl.pushUsedPacked,
        };
        const driver = { addPacked: impl.addPacked, getBufPacked: impl.getBufPacked };
        const want = packedRoundTrips({}, {});
        const runs = [["device", packedRoundTrips(device, {})], [
          "driver",
          packedRoundTrips({}, driver),
        ]] as const;
        for (const [side, got] of runs) {
          const k = got.reaped.findIndex((r, i) => r !== want.reaped[i]);
          if (k < 0 && got.reaped.length === want.reaped.length && got.ids.length === 0) continue;
          const at = k < 0 ? got.reaped.length : k;
          fail({
            observed:
              `with your ${side} half, buffer ${at} came back as ${
                got.reaped[at] ?? "nothing"
              } (token:len; ${got.reaped.length} reaped)` +
              (got.ids.length ? `; reported ${got.ids.slice(0, 3).join(", ")}` : ""),
            expected: `${want.reaped[at] ?? "no more buffers"}: the reference halves reap ` +
              `${want.reaped.length} buffers and report nothing`,
          });
        }
      },
    },
    machineCheck<Impl>({
      id: "packed-ring",
      name: "your packed ring runs the lab machine",
      requirement: "2.8.17/6",
      hint: 4,
      expects: "the lab machine, on your five parts, packed rings and a strict log, to negotiate " +
        "VIRTIO_F_RING_PACKED with both devices and carry console and disk traffic on it",
      lesson,
      packed: true,
      also(machine) {
        for (const dev of [machine.blk, machine.console]) {
          if (hasFeature(dev.driverTransport.features, VIRTIO_F_RING_PACKED)) continue;
          fail({
            observed: `${dev.window.name} negotiated no VIRTIO_F_RING_PACKED`,
            expected: "VIRTIO_F_RING_PACKED negotiated with both devices",
          });
        }
      },
    }),
  ],
});
