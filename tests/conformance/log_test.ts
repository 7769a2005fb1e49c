// Tests for conformance/log.ts: the conformance log, its reporters and its
// text, JSON and Jupyter forms.
//
// Requirement ids are taken from the table rather than quoted: tools/coverage.ts
// counts a test file that quotes an id as triggering that id's check, and
// these tests trigger no real check.

import assert from "node:assert/strict";
import {
  ConformanceError,
  ConformanceLog,
  ConformanceReporter,
  formatViolation,
  type Violation,
} from "../../conformance/log.ts";
import {
  DERIVED_RULES,
  NORMATIVE_REQUIREMENTS,
  type Requirement,
  type RequirementId,
} from "../../conformance/requirements.ts";

function pick(predicate: (r: Requirement) => boolean): Requirement {
  const found = NORMATIVE_REQUIREMENTS.find(predicate);
  assert.ok(found, "no requirement matches");
  return found;
}

const DRIVER_MUST = pick((r) => r.role === "driver" && r.level === "MUST");
const DEVICE_SHOULD = pick((r) => r.role === "device" && r.level === "SHOULD");
const DERIVED = DERIVED_RULES[0];

Deno.test("report fills section, role and level from the requirement table", () => {
  const log = new ConformanceLog();
  for (const rule of [DRIVER_MUST, DEVICE_SHOULD, DERIVED]) {
    const v = log.report({ id: rule.id, message: "Observed something" });
    assert.equal(v.id, rule.id);
    assert.equal(v.section, rule.section);
    assert.equal(v.role, rule.role);
    assert.equal(v.level, rule.level);
    assert.equal(v.message, "Observed something");
    assert.deepEqual(v.values, {});
    assert.equal(v.source, "");
    assert.equal(v.action, "");
  }
  assert.equal(log.entries.length, 3);
});

Deno.test("report keeps source, action and a frozen copy of the values", () => {
  const log = new ConformanceLog();
  const values: Record<string, number | bigint> = { offset: 0x70, features: 1n << 32n };
  const v = log.report({
    id: DRIVER_MUST.id,
    message: "16-bit read of Status (0x070)",
    values,
    source: "virtio-blk@0x1e000",
    action: "read returned 0",
  });
  values.offset = 0;
  assert.equal(v.values.offset, 0x70, "the entry must not share the caller's object");
  assert.equal(v.values.features, 1n << 32n);
  assert.equal(v.source, "virtio-blk@0x1e000");
  assert.equal(v.action, "read returned 0");
  assert.ok(Object.isFrozen(v));
  assert.ok(Object.isFrozen(v.values));
  assert.equal(log.entries[0], v);
});

Deno.test("sequence numbers start at 1 and keep counting after clear", () => {
  const log = new ConformanceLog();
  assert.deepEqual(
    [1, 2, 3].map(() => log.report({ id: DRIVER_MUST.id, message: "m" }).seq),
    [1, 2, 3],
  );
  log.clear();
  assert.equal(log.entries.length, 0);
  assert.equal(log.has(), false);
  assert.equal(log.report({ id: DRIVER_MUST.id, message: "m" }).seq, 4);
});

Deno.test("a full log drops the oldest entries and counts them", () => {
  const log = new ConformanceLog({ capacity: 3 });
  for (let i = 0; i < 5; i++) log.report({ id: DRIVER_MUST.id, message: `m${i}` });
  assert.deepEqual(log.entries.map((v) => v.seq), [3, 4, 5]);
  assert.deepEqual(log.entries.map((v) => v.message), ["m2", "m3", "m4"]);
  assert.equal(log.dropped, 2);
  assert.match(log.format(), /\(2 older entries dropped\)$/);
  log.clear();
  assert.equal(log.dropped, 0);
  assert.equal(log.report({ id: DRIVER_MUST.id, message: "m" }).seq, 6);
});

Deno.test("the default capacity is 10 000 entries", () => {
  const log = new ConformanceLog();
  for (let i = 0; i < 10_000; i++) log.report({ id: DRIVER_MUST.id, message: "m" });
  assert.equal(log.dropped, 0);
  log.report({ id: DRIVER_MUST.id, message: "m" });
  assert.equal(log.entries.length, 10_000);
  assert.equal(log.dropped, 1);
  assert.equal(log.entries[0].seq, 2);
});

Deno.test("strict mode records, tells listeners, then throws ConformanceError", () => {
  const log = new ConformanceLog({ strict: true });
  const heard: Violation[] = [];
  log.subscribe((v) => heard.push(v));
  let thrown: unknown;
  try {
    log.report({ id: DEVICE_SHOULD.id, message: "Late notification", values: { idx: 3 } });
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof ConformanceError);
  assert.ok(thrown instanceof Error);
  assert.equal(thrown.name, "ConformanceError");
  assert.equal(log.entries.length, 1, "recorded before throwing");
  assert.equal(thrown.violation, log.entries[0]);
  assert.equal(heard.length, 1);
  assert.equal(heard[0], log.entries[0]);
  assert.equal(thrown.message, formatViolation(log.entries[0]));
});

Deno.test("strict can be switched on and off on a live log", () => {
  const log = new ConformanceLog();
  assert.equal(log.strict, false);
  log.report({ id: DRIVER_MUST.id, message: "m" });
  log.strict = true;
  assert.throws(() => log.report({ id: DRIVER_MUST.id, message: "m" }), ConformanceError);
  log.strict = false;
  log.report({ id: DRIVER_MUST.id, message: "m" });
  assert.equal(log.entries.length, 3);
});

Deno.test("an unknown id throws RangeError and records nothing, even in strict mode", () => {
  for (const strict of [false, true]) {
    const log = new ConformanceLog({ strict });
    let heard = 0;
    log.subscribe(() => heard++);
    assert.throws(
      () => log.report({ id: "9.9.9/1" as RequirementId, message: "m" }),
      (e: unknown) => e instanceof RangeError && !(e instanceof ConformanceError),
    );
    assert.equal(log.entries.length, 0);
    assert.equal(heard, 0);
    // The failed report used no sequence number.
    log.strict = false;
    assert.equal(log.report({ id: DERIVED.id, message: "m" }).seq, 1);
  }
});

Deno.test("listeners hear every violation in order until they unsubscribe", () => {
  const log = new ConformanceLog();
  const a: number[] = [];
  const b: number[] = [];
  const offA = log.subscribe((v) => a.push(v.seq));
  log.subscribe((v) => b.push(v.seq));
  log.report({ id: DRIVER_MUST.id, message: "m" });
  log.report({ id: DRIVER_MUST.id, message: "m" });
  offA();
  log.report({ id: DRIVER_MUST.id, message: "m" });
  assert.deepEqual(a, [1, 2]);
  assert.deepEqual(b, [1, 2, 3]);
});

Deno.test("has and find filter by id and by role", () => {
  const log = new ConformanceLog();
  assert.equal(log.has(), false);
  assert.equal(log.has(DRIVER_MUST.id), false);
  log.report({ id: DRIVER_MUST.id, message: "a" });
  log.report({ id: DEVICE_SHOULD.id, message: "b" });
  log.report({ id: DRIVER_MUST.id, message: "c" });
  assert.equal(log.has(), true);
  assert.equal(log.has(DRIVER_MUST.id), true);
  assert.equal(log.has(DERIVED.id), false);
  assert.deepEqual(log.find(DRIVER_MUST.id).map((v) => v.message), ["a", "c"]);
  assert.deepEqual(log.find({ role: "device" }).map((v) => v.message), ["b"]);
  assert.deepEqual(log.find({ role: DRIVER_MUST.role }).map((v) => v.seq), [1, 3]);
});

Deno.test("scoped reporters stamp their source and nest with a space", () => {
  const log = new ConformanceLog();
  const dev = log.scoped("virtio-blk@0x1e000");
  assert.ok(dev instanceof ConformanceReporter);
  assert.equal(dev.log, log);
  assert.equal(dev.source, "virtio-blk@0x1e000");
  const q = dev.scoped("queue 0");
  assert.equal(q.source, "virtio-blk@0x1e000 queue 0");
  assert.equal(dev.scoped("").source, "virtio-blk@0x1e000");
  assert.equal(log.scoped("").scoped("queue 1").source, "queue 1");

  const v = q.report(DRIVER_MUST.id, "Bad chain", { head: 5 }, "queue marked broken");
  assert.equal(v.source, "virtio-blk@0x1e000 queue 0");
  assert.deepEqual(v.values, { head: 5 });
  assert.equal(v.action, "queue marked broken");
  const w = dev.report(DERIVED.id, "Other");
  assert.deepEqual(w.values, {});
  assert.equal(w.action, "");
  assert.deepEqual(log.entries, [v, w]);
});

Deno.test("a scoped reporter throws in strict mode like its log", () => {
  const log = new ConformanceLog({ strict: true });
  assert.throws(() => log.scoped("x").report(DRIVER_MUST.id, "m"), ConformanceError);
  assert.equal(log.entries.length, 1);
});

Deno.test("toJSON turns bigints into hex strings and keeps everything else", () => {
  const log = new ConformanceLog();
  log.report({
    id: DRIVER_MUST.id,
    message: "Feature not offered",
    values: {
      accepted: 0x1_0000_0001n,
      bit: 33,
      name: "VIRTIO_F_ACCESS_PLATFORM",
      ok: false,
      none: null,
    },
    source: "virtio-console@0x1f000",
    action: "FEATURES_OK refused",
  });
  const json = log.toJSON();
  assert.deepEqual(json, [{
    seq: 1,
    id: DRIVER_MUST.id,
    section: DRIVER_MUST.section,
    role: DRIVER_MUST.role,
    level: DRIVER_MUST.level,
    message: "Feature not offered",
    values: {
      accepted: "0x100000001",
      bit: 33,
      name: "VIRTIO_F_ACCESS_PLATFORM",
      ok: false,
      none: null,
    },
    source: "virtio-console@0x1f000",
    action: "FEATURES_OK refused",
  }]);
  // JSON.stringify would throw on a bigint; through toJSON it cannot.
  const parsed = JSON.parse(JSON.stringify(log));
  assert.equal(parsed[0].values.accepted, "0x100000001");
  assert.equal(log.entries[0].values.accepted, 0x1_0000_0001n, "entries keep their bigints");
});

Deno.test("format gives a header line and one line per violation", () => {
  const log = new ConformanceLog();
  assert.equal(log.format(), "Conformance log: no violations.");
  log.report({
    id: DRIVER_MUST.id,
    message: "Misaligned read",
    values: { offset: 0x71, width: 4, name: "Status", big: 255n, flag: true, none: null },
    source: "bus",
    action: "read returned 0",
  });
  log.report({ id: DEVICE_SHOULD.id, message: "No values" });
  const lines = log.format().split("\n");
  assert.deepEqual(lines, [
    "Conformance log: 2 violation(s)",
    `  §${DRIVER_MUST.id} (driver MUST) at bus: Misaligned read ` +
    `[offset=113 width=4 name="Status" big=0xff flag=true none=null] -> read returned 0`,
    `  §${DEVICE_SHOULD.id} (device SHOULD): No values`,
  ]);
  assert.equal(Deno.inspect(log), log.format());
});

Deno.test("formatViolation leaves out empty source, values and action", () => {
  const log = new ConformanceLog();
  const v = log.report({ id: DERIVED.id, message: "Plain" });
  assert.equal(formatViolation(v), `§${DERIVED.id} (${DERIVED.role} derived): Plain`);
});

Deno.test("the Jupyter bundle has text/plain and escaped text/html", () => {
  const log = new ConformanceLog();
  const display = (log as unknown as Record<symbol, () => Record<string, string>>)[
    Symbol.for("Jupyter.display")
  ].bind(log);
  const empty = display();
  assert.deepEqual(Object.keys(empty).sort(), ["text/html", "text/plain"]);
  assert.equal(empty["text/plain"], "Conformance log: no violations.");
  assert.match(empty["text/html"], /no violations/);

  log.report({
    id: DRIVER_MUST.id,
    message: `<script>alert("x")</script> & more`,
    values: { tag: "<b>", big: 16n },
    source: "<dev & co>",
    action: 'said "no"',
  });
  const bundle = display();
  assert.deepEqual(Object.keys(bundle).sort(), ["text/html", "text/plain"]);
  assert.equal(bundle["text/plain"], log.format());
  const html = bundle["text/html"];
  assert.ok(!html.includes("<script>"), "message must be escaped");
  assert.ok(!html.includes("<b>"), "values must be escaped");
  assert.ok(!html.includes("<dev"), "source must be escaped");
  assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more"));
  assert.ok(html.includes("&lt;dev &amp; co&gt;"));
  assert.ok(html.includes("said &quot;no&quot;"));
  assert.ok(html.includes("big=0x10"));
  assert.match(html, /^<table [^>]*data-virtio-lab="conformance-log".*<\/table>$/s);
  assert.equal((html.match(/<tr>/g) ?? []).length, 2, "a header row and one violation row");
  const cells = html.match(/<t[dh] style="[^"]*"/g) ?? [];
  assert.equal(cells.length, 2 * 8, "8 columns");
  assert.ok(cells.every((c) => c.includes("text-align:left")), "every cell is left-aligned");
});
