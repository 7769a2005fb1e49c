/**
 * The grader of "Returning buffers".
 *
 * Device side: `pushUsed` on rings built for each case, near and across the
 * 16-bit wrap, out of order, with a slot that still holds an earlier lap's
 * bytes and a `len` above 16 bits: which slot it fills and with what, where
 * the used `idx` goes, and what it stores in which order. Then the store
 * order under a concurrent reference driver that reaps after every single
 * store the device makes (2.7.8.2/1).
 *
 * Driver side: `getBuf` against the hostile-device corpus (ids out of
 * range, mid-chain, never posted or repeated; a `len` above the writable
 * bytes, among them the vhost/vsock one; a used `idx` ahead of what is
 * outstanding or moved back; and the valid edges: out of order, `len`
 * exactly the writable bytes, Queue Size entries at once, across the wrap),
 * whether a bad entry breaks the queue, and `moreUsed` over the whole
 * 16-bit plane. Last, the lab machine returns and reaps every buffer on the
 * learner's code.
 *
 * @module
 */

import { defineGrader, expectEqual } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import { pushUsed as referencePushUsed } from "../../virtqueue/device/used.ts";
import { moreUsed as referenceMoreUsed } from "../../virtqueue/driver/used.ts";
import { usedElemOffset } from "../../virtqueue/layout.ts";
import { hexAddress } from "../../memory/guest_memory.ts";
import * as show from "../kit/format.ts";
import { ringFixture } from "../kit/ring.ts";
import type { MemoryAccess } from "../kit/snoop.ts";
import { every, ruleFor } from "../kit/rules.ts";
import { storeOrderCheck } from "../kit/ring_checks.ts";
import {
  HOSTILE_COMPLETIONS,
  type HostileCompletion,
  hostileCompletionRows,
  hostileCompletionSubject,
} from "../kit/hostile_device.ts";
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;

// ------------------------------------------------------------ pushUsed

/** One push: a ring, the chains the device holds, which one comes back and with what `len`. */
interface PushCase {
  readonly size: number;
  /** The 16-bit index both halves start at: the used idx before the push. */
  readonly start: number;
  /** Chains the device holds (popped; a 16-byte readable buffer, then a writable one). */
  readonly held: number;
  /** Which of them is returned (0: the first popped). */
  readonly pick: number;
  /** Writable bytes of each chain. */
  readonly writable: number;
  /** The `len` the device model reports. */
  readonly len: number;
  /** Whether the slot holds 0xff bytes from an earlier lap. */
  readonly dirty?: boolean;
  /** A used idx in memory the driver scribbled over (the device's own count is its record's). */
  readonly scribbled?: number;
}

const PUSHES: readonly PushCase[] = [
  { size: 8, start: 0, held: 1, pick: 0, writable: 64, len: 64 },
  { size: 8, start: 0, held: 3, pick: 2, writable: 512, len: 1 },
  { size: 4, start: 0xfffe, held: 2, pick: 1, writable: 16, len: 0, dirty: true },
  { size: 4, start: 0xffff, held: 1, pick: 0, writable: 100, len: 100, dirty: true },
  { size: 2, start: 0x0005, held: 1, pick: 0, writable: 8, len: 3, dirty: true },
  { size: 8, start: 0x0007, held: 2, pick: 0, writable: 512, len: 512, dirty: true },
  { size: 16, start: 0x7ff9, held: 2, pick: 1, writable: 0x1_0001, len: 0x1_0001 },
  { size: 256, start: 0xff80, held: 3, pick: 1, writable: 4096, len: 2048, dirty: true },
  { size: 8, start: 0x0100, held: 1, pick: 0, writable: 64, len: 64, scribbled: 0x0042 },
];

/** What a push did. */
interface Push {
  readonly head: number;
  /** The used element in the slot the used idx named before the push, read back. */
  readonly element: { readonly id: number; readonly len: number };
  /** The used idx in memory afterwards, and `ring.usedIdx`. */
  readonly idx: number;
  readonly usedIdx: number;
  /** Every store, in order, with the ring field it hit. */
  readonly stores: readonly { readonly place: string; readonly text: string }[];
}

function push(part: Impl["pushUsed"], c: PushCase): Push {
  const f = ringFixture({ size: c.size, startIdx: c.start });
  const slot = c.start & (c.size - 1);
  const heads = f.memory.quietly(() => {
    for (let k = 0; k < c.held; k++) {
      f.driverQueue.add([f.buffer(16)], [f.buffer(c.writable)], `chain ${k}`);
    }
    f.driverQueue.kickPrepare();
    const popped: number[] = [];
    for (let chain = f.deviceQueue.pop(); chain !== null; chain = f.deviceQueue.pop()) {
      popped.push(chain.head);
    }
    if (c.dirty) f.memory.fill(f.addresses.usedAddr + usedElemOffset(slot), 8, 0xff);
    if (c.scribbled !== undefined) f.setUsedIdx(c.scribbled);
    return popped;
  });
  const head = heads[c.pick];
  const log = f.memory.record();
  try {
    part(f.device, head, c.len);
  } finally {
    f.memory.record(false);
  }
  const at = f.addresses.usedAddr + usedElemOffset(slot);
  const place = (a: MemoryAccess) => f.place(a.address) ?? hexAddress(a.address);
  return {
    head,
    element: f.memory.quietly(() => ({ id: f.memory.readU32(at), len: f.memory.readU32(at + 4) })),
    idx: f.usedIdx(),
    usedIdx: f.device.usedIdx,
    stores: log.filter((a) => a.kind !== "load").map((a) => ({
      place: place(a),
      text: show.memoryAccess(a, f.place),
    })),
  };
}

const pushes = ruleFor<Impl, [PushCase], Push>({
  run: (impl, c) => push(impl.pushUsed, c),
  reference: (c) => push(referencePushUsed, c),
  show: (c) =>
    `pushUsed(ring, head, ${c.len}) returning the chain popped ${
      ["first", "second", "third"][c.pick]
    } of ${c.held} (${c.writable} writable bytes) on a ${c.size}-entry ring at used idx ${
      show.ringIdx(c.start, c.size)
    }${c.dirty ? ", its slot holding 0xff bytes from an earlier lap" : ""}${
      c.scribbled === undefined
        ? ""
        : `, the used idx in memory scribbled to ${show.ringIdx(c.scribbled)}`
    }`,
  verb: "left",
  result: (r) =>
    `used element ${show.usedElem(r.element)} where idx pointed, used idx ${
      show.ringIdx(r.idx)
    } and ring.usedIdx ${show.ringIdx(r.usedIdx)}, after ${
      r.stores.length === 0 ? "no store" : r.stores.map((s) => s.text).join(", then ")
    }`,
}, { cases: every(PUSHES.map((c) => [c] as [PushCase])), hint: 2 });

/** The stores of a push, the element's fields lumped together: what 2.7.8.2/1 orders. */
const storeShape = (r: Push) => r.stores.map((s) => s.place.replace(/ (id|len)$/, ""));

// ------------------------------------------------------------ getBuf

const reap = hostileCompletionSubject<Impl>(
  (impl) => ({ getBuf: impl.getBuf }),
  (c) => `reaping with getBuf after ${c.name}`,
);
const BAD = HOSTILE_COMPLETIONS.filter((c) => !c.accepted);
const breaks = ruleFor(reap, { hint: 3 });

// ------------------------------------------------------------ moreUsed

interface MoreUsed {
  readonly answer: unknown;
  readonly stores: number;
  readonly lastUsed: number;
}

function askMoreUsed(part: Impl["moreUsed"], size: number, last: number, ahead: number): MoreUsed {
  const f = ringFixture({ size, startIdx: last, ramSize: 64 * 1024 });
  f.setUsedIdx(last + ahead);
  const log = f.memory.record();
  const answer = part(f.driver);
  f.memory.record(false);
  return {
    answer,
    stores: log.filter((a) => a.kind !== "load").length,
    lastUsed: f.driver.lastUsed,
  };
}

const MORE_USED: [number, number, number][] = [];
for (const size of [1, 4, 256]) {
  for (const last of [0, 1, 0x7fff, 0xfffe, 0xffff]) {
    for (const ahead of new Set([0, 1, 2, size - 1, size])) MORE_USED.push([size, last, ahead]);
  }
}

const more = ruleFor<Impl, [number, number, number], MoreUsed>({
  run: (impl, size, last, ahead) => askMoreUsed(impl.moreUsed, size, last, ahead),
  reference: (size, last, ahead) => askMoreUsed(referenceMoreUsed, size, last, ahead),
  show: (size, last, ahead) =>
    `moreUsed(ring) on a ${size}-entry ring with lastUsed ${show.ringIdx(last)} and used idx ${
      show.ringIdx((last + ahead) & 0xffff)
    } (${ahead} entr${ahead === 1 ? "y" : "ies"} waiting)`,
  result: (r) =>
    `returned ${show.value(r.answer)}${r.stores ? ` after ${r.stores} store(s)` : ""}, ` +
    `lastUsed ${show.ringIdx(r.lastUsed)} afterwards`,
});

export const grader = defineGrader<Impl>({
  lesson: "used-ring",
  checks: [
    // --------------------------------------------------- device side
    pushes({
      name: "pushUsed names the chain's head in the slot the used idx points at",
      requirement: "2.7.8/D1",
      hint: 3,
      verdict: (r) => r.element.id,
      why: "the used element in slot usedIdx % Queue Size to hold the chain's head as its le32 id",
    }),
    pushes({
      name: "the used element's len is the bytes the device wrote, as given",
      requirement: "2.7.8.2/2",
      verdict: (r) => r.element.len,
      why: "the element's le32 len to be the len passed in: bytes written, not the chain's size",
      note: (got, _want, c) =>
        got.element.len === c.writable && c.len !== c.writable
          ? "A len that is the writable size, not what was written, is the vhost/vsock bug of " +
            "the case file (Linux 49d8c5ffad07)."
          : undefined,
    }),
    pushes({
      name: "the used idx moves on by one, free-running across the 16-bit wrap",
      requirement: "2.7.8/D2",
      verdict: (r) => ({ idx: r.idx, usedIdx: r.usedIdx }),
      why: "the used idx in memory and ring.usedIdx to be (usedIdx + 1) & 0xffff, never % size",
    }),
    pushes({
      name: "pushUsed stores the used element, then the used idx, and nothing else",
      requirement: "2.7.8.2/1",
      verdict: storeShape,
      agrees: (got, want) =>
        got.length >= 2 && got.at(-1) === want.at(-1) &&
        got.slice(0, -1).every((p) => p === want[0]),
      why: "stores into the element's id and len (any order, any width), then one store of the " +
        "used idx, last",
    }),
    storeOrderCheck<Impl>({
      side: "device",
      hint: 2,
      parts: (impl) => ({ pushUsed: impl.pushUsed }),
    }),
    // --------------------------------------------------- driver side
    ...hostileCompletionRows(reap, { hint: 2 }),
    breaks({
      name: "a used entry that breaks a rule breaks the queue",
      requirement: "2.7.8/D1",
      cases: every(BAD.map((c) => [c] as [HostileCompletion])),
      verdict: (r) => r.broken,
      cites: (_want, c) => c.rule,
      why: (_want, c) =>
        `the bad entry reported with breakDriverRing, so the queue is broken by ${c.rule} and ` +
        "reaps nothing more",
    }),
    more({
      name: "moreUsed sees every entry waiting, Queue Size of them too, across the wrap",
      requirement: "2.7.8/D2",
      hint: 2,
      cases: every(MORE_USED),
      why: "true exactly when the used idx differs from lastUsed over all 16 bits; nothing " +
        "stored, nothing changed",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "used-ring",
      name: "your used ring runs the lab machine",
      requirement: "2.7.8.2/1",
      hint: 4,
      expects: "the lab machine, on your pushUsed, moreUsed and getBuf and a strict log, to " +
        "return and reap every console and disk buffer, leaving nothing waiting",
      lesson,
      timeoutMs: 1500,
      async also(machine) {
        await machine.idle();
        for (const d of [machine.blk, machine.console]) {
          for (const [index, queue] of d.driverTransport.queues) {
            expectEqual(
              queue.hasUsed(),
              false,
              `used entries waiting on ${d.device.name} queue ${index}`,
              {
                requires:
                  `every used entry of ${d.device.name} queue ${index} reaped once the machine is idle`,
              },
            );
          }
        }
      },
    }),
  ],
});
