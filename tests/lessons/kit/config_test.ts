import assert from "node:assert/strict";
import {
  CONSISTENT_CASES,
  resizedConsole,
  runConsistent,
  runWide,
  settles,
  WIDE_CASES,
} from "../../../lessons/kit/config.ts";
import { configChanged } from "../../../transport/config_space.ts";
import { readConfig64, readConfigConsistent } from "../../../transport/driver_config.ts";

Deno.test("runConsistent: the reference returns the first unchanged run, or gives up after maxTries", () => {
  for (const c of CONSISTENT_CASES) {
    const r = runConsistent(readConfigConsistent, c);
    const max = c.maxTries ?? 100;
    if (settles(c)) {
      assert.ok("returned" in r.outcome, c.name);
      const changed = c.changesDuring as readonly number[];
      let first = 1;
      while (changed.includes(first)) first++;
      assert.equal((r.outcome.returned as { run: number }).run, first, c.name);
    } else if (max >= 1) {
      assert.ok(
        "threw" in r.outcome && (r.outcome.threw as Error).name === "ConfigGenerationError",
      );
      assert.equal(r.runs, max, c.name);
    } else {
      assert.ok("threw" in r.outcome && r.outcome.threw instanceof RangeError, c.name);
      assert.deepEqual([r.runs, r.own.length], [0, 0], c.name);
    }
    assert.ok(r.own.every((a) => a === "read32 0x0fc"), c.name);
  }
});

Deno.test("runWide: the reference reads two halves low first and never returns a torn value", () => {
  for (const c of WIDE_CASES) {
    const r = runWide(readConfig64, c);
    if (c.givesUp) {
      assert.ok("threw" in r.outcome, c.name);
      continue;
    }
    assert.ok("returned" in r.outcome, c.name);
    assert.equal(r.outcome.returned, c.changesTo ?? c.value, c.name);
    assert.deepEqual(r.outside, []);
    for (const run of r.runs) {
      assert.deepEqual(run, [
        `read32 0x${(0x100 + c.offset).toString(16)}`,
        `read32 0x${(0x104 + c.offset).toString(16)}`,
      ]);
    }
    assert.equal(r.runs.length, c.changesTo === undefined ? 1 : 2, c.name);
  }
});

Deno.test("resizedConsole: the reference moves the generation on both resizes and notifies only the live one", () => {
  const at = resizedConsole(configChanged);
  assert.deepEqual(Object.values(at).map((s) => s.generation), [0, 1, 1, 2]);
  assert.deepEqual(Object.values(at).map((s) => s.configInterrupt), [false, false, false, true]);
});
