// The queue placement corpus: every case's fair answers hold the
// reference's, refusals and accepted edges for every rule, and a check that
// gets one rule wrong fails exactly the cases of that rule.

import assert from "node:assert/strict";
import {
  describePlacement,
  placement,
  placementJudging,
  type PlacementTopic,
  problemShape,
  QUEUE_PLACEMENTS,
} from "../../../lessons/kit/placements.ts";
import { queueAreaProblem } from "../../../transport/queue_registers.ts";
import type { QueueAreaContext, QueueRegisters } from "../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../transport/types.ts";
import { ruleFor } from "../../../lessons/kit/rules.ts";
import { failed, gradeRows } from "./_grade.ts";

const TOPICS: PlacementTopic[] = ["num", "size", "max", "align", "ram", "overlap"];

Deno.test("every placement's fair answers hold what the reference device says", () => {
  assert.equal(new Set(QUEUE_PLACEMENTS.map((p) => p.name)).size, QUEUE_PLACEMENTS.length);
  for (const p of QUEUE_PLACEMENTS) {
    const got = queueAreaProblem(p.registers, p.context);
    assert.equal(problemShape(got), undefined, p.name);
    if (p.fair.length === 0) assert.equal(got, null, p.name);
    else assert.ok(got && p.fair.includes(got.id), `${p.name}: ${got?.id} not in ${p.fair}`);
  }
});

Deno.test("each rule has refusals and at least one accepted edge", () => {
  for (const topic of TOPICS) {
    const cases = QUEUE_PLACEMENTS.filter((p) => p.topic === topic);
    assert.ok(cases.some((p) => p.fair.length > 0), `${topic}: no refusal`);
    assert.ok(cases.some((p) => p.fair.length === 0), `${topic}: no accepted edge`);
  }
  assert.equal(placement("a table at address 0").context.ram.base, 0);
  assert.throws(() => placement("no such case"), RangeError);
  assert.match(
    describePlacement(placement("a table 8 bytes off")),
    /^QueueNum 8, areas at 0x40001008, 0x40002000 and 0x40003000; QueueNumMax 256, RAM \[0x40000000, 0x40100000\), eventIdx false$/,
  );
});

type Check = (r: QueueRegisters, c: QueueAreaContext) => RuleProblem | null;
const rows = () => {
  const subject = ruleFor<{ check: Check }, [string], RuleProblem | null>({
    run: (impl, name) => impl.check(placement(name).registers, placement(name).context),
    reference: (name) => queueAreaProblem(placement(name).registers, placement(name).context),
    show: (name) => name,
    result: (r) => String(r?.id ?? null),
    shape: problemShape,
  }, { hint: 1 });
  return TOPICS.map((t) =>
    subject({ name: t, requirement: "2.7.1/1", ...placementJudging(t, `the ${t} rule`) })
  );
};

Deno.test("a device that refuses areas ending on RAM's last byte fails the RAM cases only", async () => {
  const offByOne: Check = (r, c) => {
    const found = queueAreaProblem(r, c);
    if (found) return found;
    const ends = [[r.deviceLow, 4 + 8 * r.num], [r.driverLow, 4 + 2 * r.num]];
    return ends.some(([at, len]) => at + len >= c.ram.base + c.ram.size)
      ? { id: "2.7.5/D2", message: "past RAM", values: {} }
      : null;
  };
  const results = await gradeRows(rows(), { check: offByOne });
  assert.deepEqual([...failed(results).keys()], ["ram"]);
  assert.match(failed(results).get("ram")!.message, /ending on RAM's last byte/);
});

/** Every problem a queue's registers have, in the contract's order (an oracle of the test's own). */
function allProblems(r: QueueRegisters, c: QueueAreaContext): string[] {
  const n = r.num;
  if (n === 0) return [r.wasReset ? "2.6.1.2.2/1" : "4.2.3.2/D1"];
  const out: string[] = [];
  if (!(Number.isInteger(n) && n >= 1 && n <= 32768 && (n & (n - 1)) === 0)) out.push("2.7/D1");
  if (n > c.max) out.push("4.2.2.2/9");
  const ev = c.eventIdx ? 2n : 0n;
  const at = (lo: number, hi: number) => (BigInt(hi) << 32n) + BigInt(lo);
  const areas: [bigint, bigint, bigint][] = [
    [at(r.descLow, r.descHigh), 16n * BigInt(n), 16n],
    [at(r.driverLow, r.driverHigh), 4n + 2n * BigInt(n) + ev, 2n],
    [at(r.deviceLow, r.deviceHigh), 4n + 8n * BigInt(n) + ev, 4n],
  ];
  const [lo, hi] = [BigInt(c.ram.base), BigInt(c.ram.base + c.ram.size)];
  if (areas.some(([s, , a]) => s % a !== 0n)) out.push("2.7.1/1");
  if (areas.some(([s, len]) => s < lo || s + len > hi)) out.push("2.7.5/D2");
  const apart = (x: [bigint, bigint, bigint], y: [bigint, bigint, bigint]) =>
    x[0] + x[1] <= y[0] || y[0] + y[1] <= x[0];
  if (!apart(areas[0], areas[1]) || !apart(areas[0], areas[2]) || !apart(areas[1], areas[2])) {
    out.push("2.7/D2");
  }
  return out;
}

Deno.test("fair answers are every rule a case breaks, so any order of the checks passes", async () => {
  for (const p of QUEUE_PLACEMENTS) {
    assert.deepEqual([...allProblems(p.registers, p.context)].sort(), [...p.fair].sort(), p.name);
  }
  const last: Check = (r, c) => {
    const ids = allProblems(r, c);
    return ids.length ? { id: ids.at(-1) as RuleProblem["id"], message: "no", values: {} } : null;
  };
  assert.deepEqual([...failed(await gradeRows(rows(), { check: last })).keys()], []);
});

Deno.test("wording is free, but a refusal says something", async () => {
  const silent: Check = (r, c) => {
    const found = queueAreaProblem(r, c);
    return found && { ...found, message: " " };
  };
  assert.equal(failed(await gradeRows(rows(), { check: silent })).size, TOPICS.length);
});
