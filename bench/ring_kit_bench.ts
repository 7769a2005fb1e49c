/**
 * What the ring edition of the grading kit costs a grader, on the reference
 * halves. The baseline is the kit's ordinary workload (`ringScenario`, 40
 * rounds on an 8-entry ring, unobserved), so `deno bench` prints what
 * running the concurrent observers after every store costs against it, in
 * the same run; the hostile corpora and the rows built on them are timed
 * whole, against the grading budget (well under 0.5 s per lesson).
 *
 * Run: deno bench --allow-read bench/ring_kit_bench.ts
 *
 * @module
 */

import { defineGrader, gradeInProcess } from "../course/grader.ts";
import {
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
} from "../virtqueue/parts.ts";
import { ringFixture } from "../lessons/kit/ring.ts";
import { observeDevice, observeDriver } from "../lessons/kit/observer.ts";
import { ringScenario, storeOrderCheck } from "../lessons/kit/ring_checks.ts";
import {
  HOSTILE_CHAINS,
  hostileChainRows,
  hostileChainSubject,
  popHostileChain,
} from "../lessons/kit/hostile_driver.ts";
import {
  HOSTILE_COMPLETIONS,
  hostileCompletionRows,
  hostileCompletionSubject,
  reapHostileCompletion,
} from "../lessons/kit/hostile_device.ts";

const RING = { size: 8, startIdx: 0xfff0 };

Deno.bench({
  name: "ringScenario, unobserved (baseline)",
  group: "concurrent observers",
  baseline: true,
  fn() {
    ringScenario(ringFixture<number>(RING));
  },
});

Deno.bench({
  name: "ringScenario under observeDriver",
  group: "concurrent observers",
  fn() {
    const f = ringFixture<number>(RING);
    const observer = observeDriver(f);
    ringScenario(f, { during: observer.during });
    if (observer.finish().length > 0) throw new Error("the reference was blamed");
  },
});

Deno.bench({
  name: "ringScenario under observeDevice",
  group: "concurrent observers",
  fn() {
    const f = ringFixture<number>(RING);
    const observer = observeDevice(f);
    ringScenario(f, { during: observer.during, watch: "device" });
    if (observer.finish().length > 0) throw new Error("the reference was blamed");
  },
});

Deno.bench({
  name: `every hostile chain (${HOSTILE_CHAINS.length} cases) on the reference device half`,
  group: "hostile corpora",
  fn() {
    for (const c of HOSTILE_CHAINS) popHostileChain(c);
  },
});

Deno.bench({
  name:
    `every hostile completion (${HOSTILE_COMPLETIONS.length} cases) on the reference driver half`,
  group: "hostile corpora",
  fn() {
    for (const c of HOSTILE_COMPLETIONS) reapHostileCompletion(c);
  },
});

type Device = typeof REFERENCE_SPLIT_RING_DEVICE_PARTS;
type Driver = typeof REFERENCE_SPLIT_RING_DRIVER_PARTS;

const deviceGrader = defineGrader<Device>({
  lesson: "mmio-window",
  checks: [
    ...hostileChainRows(hostileChainSubject<Device>((impl) => ({ ...impl })), { hint: 1 }),
    storeOrderCheck<Device>({ side: "device", hint: 1, parts: (impl) => ({ ...impl }) }),
  ],
});
const driverGrader = defineGrader<Driver>({
  lesson: "mmio-window",
  checks: [
    ...hostileCompletionRows(hostileCompletionSubject<Driver>((impl) => ({ ...impl })), {
      hint: 1,
    }),
    storeOrderCheck<Driver>({ side: "driver", hint: 1, parts: (impl) => ({ ...impl }) }),
  ],
});

Deno.bench({
  name: "grading the reference device half: every hostile-chain row and the store-order check",
  group: "rows",
  async fn() {
    const results = await gradeInProcess(deviceGrader, { ...REFERENCE_SPLIT_RING_DEVICE_PARTS });
    if (results.some((r) => r.status === "failed")) throw new Error("the reference failed");
  },
});

Deno.bench({
  name: "grading the reference driver half: every hostile-completion row and the store-order check",
  group: "rows",
  async fn() {
    const results = await gradeInProcess(driverGrader, { ...REFERENCE_SPLIT_RING_DRIVER_PARTS });
    if (results.some((r) => r.status === "failed")) throw new Error("the reference failed");
  },
});
