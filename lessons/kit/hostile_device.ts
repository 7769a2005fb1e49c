/**
 * The hostile-device corpus: used rings a device that breaks the rules (or a
 * compromised host) could write, each with the requirement id the driver
 * half must report, as data. The classes are Linux's `BAD_RING` checks in
 * `virtqueue_get_buf_ctx_split` ("id %u out of range", "id %u is not a
 * head!"), the used `len` a driver must not trust (CVE-2021-38160), and a
 * used `idx` that runs ahead of or behind what is outstanding; plus valid
 * completions an over-strict driver wrongly refuses (out of order, `len`
 * exactly the writable bytes, Queue Size entries at once, across the wrap).
 *
 * - {@linkcode HOSTILE_COMPLETIONS}: the cases. Each posts chains through
 *   the driver half under test, lets the reference device take them, then
 *   writes its used elements and `idx`.
 * - {@linkcode reapHostileCompletion}: runs a case against a driver half (the
 *   reference parts with the learner's merged in) on a non-strict log, under
 *   a read budget, and records what it reaped, reported and freed.
 * - {@linkcode hostileCompletionSubject}, {@linkcode hostileCompletionRows}:
 *   the same as rule rows, one per rule.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { Check } from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import type { SplitRingDriverParts } from "../../virtqueue/parts.ts";
import { readBudget, RunawayReadsError } from "./budget.ts";
import { ringIdx, usedElem } from "./format.ts";
import type { HostileRowsOptions } from "./hostile_driver.ts";
import { type RingFixture, ringFixture, type RingFixtureOptions } from "./ring.ts";
import { attempt, every, ruleFor, type Subject, thrown } from "./rules.ts";

/** One chain the driver posts: the lengths of its device-readable and device-writable buffers. */
export interface PostedChain {
  /** Device-readable buffer lengths, in bytes. */
  readonly readable?: readonly number[];
  /** Device-writable buffer lengths, in bytes. */
  readonly writable?: readonly number[];
}

/** One hostile (or edge-of-the-rule valid) device, as data. */
export interface HostileCompletion {
  /** What the device did, in words: `"a used id beyond Queue Size"`. */
  readonly name: string;
  /** The rule the case is about: the id the driver must report (unless `accepted`). */
  readonly rule: RequirementId;
  /** Valid completions at the edge of `rule`: the driver must reap them all and report nothing. */
  readonly accepted?: boolean;
  /** Other ids a driver may fairly report. */
  readonly fair?: readonly RequirementId[];
  /** The real bug behind the case. */
  readonly source?: string;
  /** The fixture it needs (default: 8 entries, index 0, no features). */
  readonly fixture?: Pick<RingFixtureOptions, "size" | "startIdx" | "eventIdx" | "indirect">;
  /** The chains the driver posts (tokens `"chain 0"`, `"chain 1"`...), published together. */
  readonly post: readonly PostedChain[];
  /**
   * Writes the used ring as the device does: given the heads of the posted
   * chains in order (as the reference device popped them).
   */
  readonly complete: (f: RingFixture, heads: readonly number[]) => void;
}

const ONE_WRITABLE: PostedChain = { writable: [64] };

/**
 * The corpus. The reference driver half reports exactly `rule` for each
 * (nothing for the accepted ones), and frees only what came back
 * (`tests/lessons/kit/` checks it).
 */
export const HOSTILE_COMPLETIONS: readonly HostileCompletion[] = Object.freeze(
  [
    {
      name: "a used id of Queue Size",
      rule: "2.7.8/D1",
      source: 'Linux virtqueue_get_buf_ctx_split: BAD_RING "id %u out of range"',
      post: [ONE_WRITABLE],
      complete: (f) => f.completeUsed({ id: 8, len: 0 }),
    },
    {
      name: "a used id of 0xffffffff",
      rule: "2.7.8/D1",
      post: [ONE_WRITABLE],
      complete: (f) => f.completeUsed({ id: 0xffff_ffff, len: 0 }),
    },
    {
      name: "the id of a descriptor in the middle of a chain",
      rule: "2.7.8/D1",
      source: 'Linux: BAD_RING "id %u is not a head!"; intel/MigTD PR #986',
      post: [{ readable: [16], writable: [512, 1] }],
      complete: (f, [head]) => f.completeUsed({ id: f.readDescriptor(head).next, len: 1 }),
    },
    {
      name: "an id the driver never posted",
      rule: "2.7.8/D1",
      post: [ONE_WRITABLE],
      complete: (f) => f.completeUsed({ id: 5, len: 0 }),
    },
    {
      name: "the same id returned twice",
      rule: "2.7.8/D1",
      source: "intel/MigTD PR #251 (an endless recycle loop on a repeated id)",
      post: [ONE_WRITABLE, ONE_WRITABLE],
      complete: (f, [h0]) => f.completeUsed({ id: h0, len: 64 }, { id: h0, len: 64 }),
    },
    {
      name: "out-of-order completions",
      rule: "2.7.8/D1",
      accepted: true,
      post: [ONE_WRITABLE, ONE_WRITABLE, ONE_WRITABLE],
      complete: (f, [h0, h1, h2]) =>
        f.completeUsed({ id: h2, len: 64 }, { id: h0, len: 1 }, { id: h1, len: 0 }),
    },
    {
      name: "a len one byte above the writable bytes posted",
      rule: "2.7.8.2/2",
      source:
        "Linux d00d8da5869a (CVE-2021-38160, virtio_console); rcore-os/virtio-drivers a66b595",
      post: [{ readable: [16], writable: [512] }],
      complete: (f, [head]) => f.completeUsed({ id: head, len: 513 }),
    },
    {
      name: "a len for a chain with no writable buffer",
      rule: "2.7.8.2/2",
      source: "Linux 49d8c5ffad07 (vhost/vsock reported the readable length as used)",
      post: [{ readable: [16] }],
      complete: (f, [head]) => f.completeUsed({ id: head, len: 16 }),
    },
    {
      name: "a len of exactly the writable bytes posted",
      rule: "2.7.8.2/2",
      accepted: true,
      post: [{ readable: [16], writable: [512, 1] }],
      complete: (f, [head]) => f.completeUsed({ id: head, len: 513 }),
    },
    {
      name: "a used idx two entries ahead with one chain outstanding",
      rule: "2.7.8/D2",
      post: [ONE_WRITABLE],
      complete: (f, [head]) => {
        f.completeUsed({ id: head, len: 64 });
        f.setUsedIdx(f.usedIdx() + 1);
      },
    },
    {
      name: "a used idx two entries ahead after one chain of two was returned and reaped",
      rule: "2.7.8/D2",
      post: [ONE_WRITABLE, ONE_WRITABLE],
      complete: (f, [h0, h1]) => {
        f.completeUsed({ id: h0, len: 64 });
        f.driverQueue.getBuf(); // the driver reaps the first, with the parts under test
        f.completeUsed({ id: h1, len: 64 });
        f.setUsedIdx(f.usedIdx() + 1);
      },
    },
    {
      name: "a used idx moved back by one",
      rule: "2.7.8/D2",
      post: [ONE_WRITABLE],
      complete: (f) => f.setUsedIdx(f.startIdx - 1),
    },
    {
      name: "Queue Size completions pending at once",
      rule: "2.7.8/D2",
      accepted: true,
      source: "xv6-riscv aeaf610 (used_idx compared modulo NUM misses exactly NUM completions)",
      fixture: { size: 4 },
      post: [ONE_WRITABLE, ONE_WRITABLE, ONE_WRITABLE, ONE_WRITABLE],
      complete: (f, heads) => f.completeUsed(...heads.map((id) => ({ id, len: 64 }))),
    },
    {
      name: "completions across the 16-bit wrap (used idx 0xfffe to 0x0002)",
      rule: "2.7.8/D2",
      accepted: true,
      fixture: { startIdx: 0xfffe },
      post: [ONE_WRITABLE, ONE_WRITABLE, ONE_WRITABLE, ONE_WRITABLE],
      complete: (f, heads) => f.completeUsed(...heads.map((id) => ({ id, len: 64 }))),
    },
  ] satisfies HostileCompletion[],
);

/** What a driver half did with one hostile case. */
export interface HostileReap {
  /** What it reaped, in order: tokens and lengths. */
  readonly reaped: readonly { readonly token: string; readonly len: number }[];
  /** The ids it reported (rules the device broke), in order. */
  readonly reported: readonly RequirementId[];
  /** The id that broke the queue, or `null`. */
  readonly broken: RequirementId | null;
  /** Free descriptors afterwards (nothing may be freed on a bad entry's word). */
  readonly numFree: number;
  /** What it threw (a hostile device must never crash the driver), if anything. */
  readonly threw?: unknown;
  /** The read budget's message, if it stopped a reap that was looping. */
  readonly runaway: string | null;
  /** The used ring the device wrote, in words. */
  readonly used: string;
}

/**
 * Runs a case: a fresh fixture (not strict) whose driver half runs on the
 * reference parts with `parts` merged in; the case's chains are added and
 * published through it, the reference device half pops them, the case writes
 * the used ring, and the driver reaps until `getBuf` returns `null` (at most
 * Queue Size + 2 times), under a read budget.
 *
 * @param c The case.
 * @param parts Driver-side parts to use instead of the reference ones.
 * @returns What the driver half did.
 * @throws {Error} Whatever adding the case's chains throws: the case needs a working `add`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HOSTILE_COMPLETIONS, reapHostileCompletion } from "./hostile_device.ts";
 *
 * const twice = HOSTILE_COMPLETIONS.find((c) => c.name === "the same id returned twice")!;
 * const run = reapHostileCompletion(twice);
 * assert.deepEqual(run.reaped.map((r) => r.token), ["chain 0"]);
 * assert.deepEqual(run.reported, ["2.7.8/D1"]);
 * assert.equal(run.numFree, 7); // chain 1 is still the device's
 * ```
 */
export function reapHostileCompletion(
  c: HostileCompletion,
  parts: Partial<SplitRingDriverParts> = {},
): HostileReap {
  const f = ringFixture({ ...c.fixture, driver: parts });
  const budget = readBudget(f.memory, 64 * f.size + 256, {
    doing: `posting and reaping the chains of "${c.name}"`,
    place: f.place,
  });
  const reaped: { token: string; len: number }[] = [];
  let runaway: string | null = null;
  let threw: { threw: unknown } | null = null;
  try {
    post(f, c);
  } catch (error) {
    budget.stop();
    throw error;
  }
  for (let k = 0; k < f.size + 2; k++) {
    const outcome = attempt(() => f.driverQueue.getBuf());
    if ("threw" in outcome) {
      if (outcome.threw instanceof RunawayReadsError) runaway = outcome.threw.message;
      else threw = outcome;
      break;
    }
    const used = outcome.returned;
    if (used === null) break;
    reaped.push({ token: String(used.token), len: used.len });
  }
  budget.stop();
  return {
    reaped,
    reported: f.log.find({ role: "device" }).map((v) => v.id),
    broken: f.driverQueue.broken?.id ?? null,
    numFree: f.driver.numFree,
    ...(threw ?? {}),
    runaway,
    used: describeUsed(f),
  };
}

/**
 * Posts and publishes the case's chains, lets the reference device take them, writes the used ring.
 */
function post(f: RingFixture, c: HostileCompletion): void {
  c.post.forEach((p, k) => {
    f.driverQueue.add(
      (p.readable ?? []).map((n) => f.buffer(n)),
      (p.writable ?? []).map((n) => f.buffer(n)),
      `chain ${k}`,
    );
  });
  f.driverQueue.kickPrepare();
  const heads = f.memory.quietly(() => {
    const popped: number[] = [];
    for (let chain = f.deviceQueue.pop(); chain !== null; chain = f.deviceQueue.pop()) {
      popped.push(chain.head);
    }
    return popped;
  });
  c.complete(f, heads);
}

function describeUsed(f: RingFixture): string {
  const idx = f.usedIdx();
  const from = f.startIdx;
  const n = Math.min((idx - from) & 0xffff, 4);
  const elems: string[] = [];
  f.memory.quietly(() => {
    for (let k = 0; k < n; k++) {
      const at = f.addresses.usedAddr + 4 + 8 * ((from + k) & (f.size - 1));
      elems.push(usedElem({ id: f.memory.readU32(at), len: f.memory.readU32(at + 4) }));
    }
  });
  return `used idx ${ringIdx(idx, f.size)} from ${ringIdx(from)}, elements [${elems.join(", ")}${
    ((idx - from) & 0xffff) > 4 ? ", ..." : ""
  }]`;
}

/**
 * A hostile case's reaping, for a failure message.
 *
 * @param o The run.
 */
export function showHostileReap(o: HostileReap): string {
  if (o.runaway !== null) return `was stopped by the read budget: ${o.runaway}`;
  if ("threw" in o) return `threw ${thrown(o.threw)}`;
  const reaped = o.reaped.length === 0
    ? "reaped nothing"
    : `reaped ${o.reaped.map((r) => `${r.token} (len ${r.len})`).join(", ")}`;
  const said = o.reported.length === 0
    ? "reported nothing"
    : `reported ${o.reported.join(", ")}${o.broken ? " and broke the queue" : ""}`;
  return `${reaped}, ${said}, ${o.numFree} descriptor(s) free afterwards`;
}

/** The part of a run a hostile-device row decides. */
export interface HostileReapVerdict {
  /** Tokens and lengths reaped, in order. */
  readonly reaped: readonly string[];
  /** The first id reported, or `null`. */
  readonly id: RequirementId | null;
  /** Free descriptors afterwards. */
  readonly numFree: number;
  /** Whether the driver half threw or looped. */
  readonly misbehaved: boolean;
}

/**
 * What a hostile-device row compares.
 *
 * @param o The run.
 */
export function hostileReapVerdict(o: HostileReap): HostileReapVerdict {
  return {
    reaped: o.reaped.map((r) => `${r.token}/${r.len}`),
    id: o.reported[0] ?? null,
    numFree: o.numFree,
    misbehaved: o.runaway !== null || "threw" in o,
  };
}

/**
 * The subject of hostile-device rows: the driver half with the learner's
 * parts against one case.
 *
 * @param parts The learner's driver-side parts, from their module.
 * @param call How a case is shown.
 */
export function hostileCompletionSubject<I>(
  parts: (impl: I) => Partial<SplitRingDriverParts>,
  call: (c: HostileCompletion) => string = (c) => `reaping ${c.name}`,
): Subject<I, [HostileCompletion], HostileReap> {
  return {
    run: (impl, c) => reapHostileCompletion(c, parts(impl)),
    reference: (c) => reapHostileCompletion(c),
    show: (c) => {
      const f = ringFixture(c.fixture);
      post(f, c);
      return `${call(c)} (${describeUsed(f)})`;
    },
    result: showHostileReap,
    verb: "and the driver",
  };
}

/** Row names by rule. */
export const HOSTILE_COMPLETION_ROWS: Readonly<Partial<Record<RequirementId, string>>> = Object
  .freeze({
    "2.7.8/D1": "a used id that is not the head of an outstanding chain is refused",
    "2.7.8.2/2": "a used len above the writable bytes posted is refused",
    "2.7.8/D2": "a used idx beyond what is outstanding is refused, across the wrap too",
  });

/**
 * Hostile-device rule rows: one check per rule among the cases, each
 * sweeping that rule's cases. A case fails when the learner's driver half
 * reaps other tokens or lengths than the reference, reports another id (or
 * not a `fair` one), frees a different number of descriptors, throws, or is
 * stopped by the read budget.
 *
 * @param subject From {@linkcode hostileCompletionSubject}.
 * @param options The cases and the hint.
 * @returns The checks.
 */
export function hostileCompletionRows<I>(
  subject: Subject<I, [HostileCompletion], HostileReap>,
  options: HostileRowsOptions<HostileCompletion>,
): Check<I>[] {
  const row = ruleFor(subject, { hint: options.hint });
  const cases = options.cases ?? HOSTILE_COMPLETIONS;
  const rules = [...new Set(cases.map((c) => c.rule))];
  return rules.map((rule) =>
    row<HostileReapVerdict>({
      name: HOSTILE_COMPLETION_ROWS[rule] ?? `hostile completions: ${rule}`,
      requirement: rule,
      cases: every(cases.filter((c) => c.rule === rule).map((c) => [c] as [HostileCompletion])),
      verdict: hostileReapVerdict,
      agrees: (got, want, c) =>
        !got.misbehaved && got.numFree === want.numFree &&
        got.reaped.length === want.reaped.length &&
        got.reaped.every((r, i) => r === want.reaped[i]) &&
        (got.id === want.id || (got.id !== null && (c.fair ?? []).includes(got.id))),
      why: (_want, c) =>
        c.accepted
          ? `the driver to reap every entry (${c.name}) and report nothing`
          : `the driver to refuse the bad entry without throwing, reporting ${c.rule}, ` +
            "and to free nothing on its word",
      note: (_got, _want, c) => c.source && `Case file: ${c.source}.`,
    })
  );
}
