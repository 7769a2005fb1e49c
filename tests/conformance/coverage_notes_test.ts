// Tests for conformance/coverage_notes.ts: the reasons why some requirements cannot
// be checked from the other side.
//
// Ids are looked up or listed in one space-separated string rather than
// quoted one by one: tools/coverage.ts counts a test file that quotes an id
// as triggering it, and these tests trigger no check.

import assert from "node:assert/strict";
import { UNCHECKABLE } from "../../conformance/coverage_notes.ts";
import {
  DERIVED_RULES,
  findRequirement,
  NORMATIVE_REQUIREMENTS,
} from "../../conformance/requirements.ts";

Deno.test("every uncheckable id is a normative requirement, never a derived rule", () => {
  const derived = new Set<string>(DERIVED_RULES.map((r) => r.id));
  for (const id of Object.keys(UNCHECKABLE)) {
    assert.ok(findRequirement(id) !== undefined, `unknown id ${id}`);
    assert.ok(!derived.has(id), `derived rule ${id} is checkable by construction`);
  }
});

Deno.test("every reason is one non-empty line ending in a full stop", () => {
  for (const [id, reason] of Object.entries(UNCHECKABLE)) {
    assert.ok(reason.trim().length > 20, `${id}: reason too short`);
    assert.ok(!/[\r\n]/.test(reason), `${id}: reason spans lines`);
    assert.match(reason, /\.$/, `${id}: reason should end with a full stop`);
    assert.ok(reason.length <= 240, `${id}: reason is ${reason.length} characters`);
  }
});

Deno.test("every MAY statement is listed: a permission has nothing to check", () => {
  const may = NORMATIVE_REQUIREMENTS.filter((r) => r.level === "MAY");
  assert.ok(may.length > 0);
  for (const r of may) {
    assert.ok(Object.hasOwn(UNCHECKABLE, r.id), `MAY statement ${r.id} is not listed`);
  }
});

Deno.test("memory barriers, SR-IOV and driver assumptions are listed", () => {
  const expected = "6.1/7 6.1/8 6.1/9 6.1/10 6.1/11 5.2.6.1/14".split(" ");
  for (const id of expected) assert.ok(Object.hasOwn(UNCHECKABLE, id), `${id} is not listed`);
  assert.match(UNCHECKABLE[expected[0]], /barrier/i, expected[0]);
  for (const id of expected.slice(1, 5)) assert.match(UNCHECKABLE[id], /SR-IOV/, id);
});

Deno.test("the store order a barrier protects is checked, not listed (the kit's concurrent observers)", () => {
  // The chain before the available idx, the idx before flags/avail_event, the used element before the used idx.
  for (const id of "2.7.13.3.1/1 2.7.13.4.1/1 2.7.8.2/1".split(" ")) {
    assert.ok(findRequirement(id) !== undefined, id);
    assert.ok(!Object.hasOwn(UNCHECKABLE, id), `${id} is observable and checked`);
  }
});

Deno.test("rules the other side can see are not listed as uncheckable", () => {
  // Each of these is visible to the other side through registers, the rings
  // or the requests, so the reference code is expected to check it.
  const checkable = (
    "2.1.1/2 2.2.1/1 2.7.1/1 2.7.4.2/1 2.7.5.2/1 2.7.5.3.1/1 2.7.6.1/1 2.7.8.2/2 " +
    "3.1.1/6 4.2.2.1/1 4.2.2.2/2 4.2.2.2/9 5.2.6.1/1 5.2.6.1/5 5.3.6.1/1 6.1/4 6.2/8"
  ).split(" ");
  for (const id of checkable) {
    assert.ok(findRequirement(id) !== undefined, id);
    assert.ok(!Object.hasOwn(UNCHECKABLE, id), `${id} should be checkable`);
  }
});

Deno.test("the notes are frozen", () => {
  assert.ok(Object.isFrozen(UNCHECKABLE));
});
