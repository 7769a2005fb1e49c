// Tests for lessons/kit/budget.ts: a read budget stops a loop that never
// ends with a message that says so, counts only what it is told to, and
// leaves correct code alone.

import assert from "node:assert/strict";
import { readBudget, RunawayReadsError } from "../../../lessons/kit/budget.ts";
import { SnoopingMemory } from "../../../lessons/kit/snoop.ts";

Deno.test("a poll loop on an index that never moves is stopped, with what it was doing", () => {
  const memory = new SnoopingMemory(0x1000, { base: 0x4000_0000 });
  const budget = readBudget(memory, 1000, {
    doing: "waiting for the used idx to move",
    place: (a) => (a === 0x4000_0802 ? "used ring idx" : undefined),
  });
  let polls = 0;
  let error: unknown;
  try {
    while (memory.readU16(0x4000_0802) === 0) polls++;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof RunawayReadsError);
  assert.equal(polls, 1000);
  assert.equal(budget.exhausted, true);
  assert.equal(error.budget, 1000);
  assert.equal(error.last.address, 0x4000_0802);
  assert.equal(
    error.message,
    "Your code made more than 1,000 guest memory reads while waiting for the used idx to move " +
      "(the last: 16-bit load at 0x40000802 (used ring idx)): it looks like a loop that never ends",
  );
  // Every later load throws too, until the budget is reset or removed.
  assert.throws(() => memory.readU8(0x4000_0000), RunawayReadsError);
  budget.reset();
  assert.equal(budget.used, 0);
  memory.readU8(0x4000_0000);
  budget.stop();
  for (let i = 0; i < 2000; i++) memory.readU8(0x4000_0000);
});

Deno.test("a budget on a range counts only the loads that start in it", () => {
  const memory = new SnoopingMemory(0x1000);
  const budget = readBudget(memory, 3, { range: { start: 0x100, bytes: 0x10 } });
  for (let i = 0; i < 100; i++) memory.readU32(0x0);
  memory.readU16(0x10e);
  memory.readU64(0x100);
  memory.readU8(0x10f);
  assert.equal(budget.used, 3);
  assert.throws(() => memory.readU8(0x100), RunawayReadsError);
  memory.readU8(0x110); // just past the range: not counted, not refused
  budget.stop();
});

Deno.test("loads the grader makes quietly never count", () => {
  const memory = new SnoopingMemory(0x100);
  const budget = readBudget(memory, 1);
  memory.quietly(() => {
    for (let i = 0; i < 50; i++) memory.readU16(0);
  });
  memory.readU16(0);
  assert.equal(budget.used, 1);
  assert.equal(budget.exhausted, false);
  budget.stop();
});

Deno.test("a budget must be a non-negative integer", () => {
  const memory = new SnoopingMemory(0x100);
  assert.throws(() => readBudget(memory, -1), RangeError);
  assert.throws(() => readBudget(memory, 1.5), RangeError);
  const none = readBudget(memory, 0);
  assert.throws(() => memory.readU8(0), RunawayReadsError);
  none.stop();
});
