import assert from "node:assert/strict";
import { gradeLesson, type GradeReport } from "../../course/runner.ts";
import type { Workspace } from "../../course/workspace.ts";
import { removeDir, tempWorkspace, useVariant } from "./helpers.ts";

/** Variants whose point is the compile stage; the others skip it (it costs a cold type check). */
const COMPILE_STAGE = new Set(["compile_error", "missing_export", "correct"]);

async function grade(
  variant: string | null,
  timeoutMs = 10_000,
): Promise<{ report: GradeReport; ws: Workspace }> {
  const ws = await tempWorkspace();
  const lesson = ws.course.lessons[0];
  if (variant) useVariant(ws, lesson, variant);
  const skipCompile = !COMPILE_STAGE.has(variant ?? "");
  const report = await gradeLesson({ workspace: ws, lesson, timeoutMs, skipCompile });
  await removeDir(ws.dir);
  return { report, ws };
}

function assertShape(report: GradeReport): void {
  // One JSON shape for the CLI, the notebooks and CI.
  const json = JSON.parse(JSON.stringify(report));
  assert.deepEqual(Object.keys(json.lesson).sort(), ["dir", "id", "number", "title"]);
  assert.ok(["compile", "test", "timeout", "error"].includes(json.stage));
  for (const key of ["ok", "expected", "passed", "failed", "durationMs", "memory", "tests"]) {
    assert.ok(key in json, key);
  }
  assert.deepEqual(Object.keys(json.memory).sort(), ["enforcedBy", "heapLimitBytes", "limitBytes"]);
  assert.equal(json.expected, 5, "the fixture lesson's grader defines 5 checks");
  if (json.stage !== "compile") {
    assert.equal(json.tests.length, json.expected, "one entry per check the grader defines");
    assert.equal(json.passed + json.failed, json.expected);
  }
  for (const t of json.tests) {
    assert.deepEqual(Object.keys(t).sort(), [
      "durationMs",
      "hint",
      "message",
      "name",
      "requirement",
      "run",
      "section",
      "status",
    ]);
  }
}

Deno.test("the pristine stub fails every check, each message citing the spec and a hint", async () => {
  const { report } = await grade(null);
  assertShape(report);
  assert.equal(report.stage, "test");
  assert.equal(report.ok, false);
  assert.deepEqual([report.passed, report.failed], [0, 5]);
  for (const t of report.tests) {
    assert.equal(t.status, "failed");
    assert.equal(t.run, "finished");
    assert.match(t.message, /^observed: \w+\(\) is not written yet/);
    assert.match(
      t.message,
      new RegExp(`\\(§${t.section!.replaceAll(".", "\\.")}, requirement ${t.requirement}\\)`),
    );
    assert.ok(t.hint !== null && t.hint >= 1);
    assert.match(t.message, new RegExp(`read hint ${t.hint}: deno task lab hint 1 ${t.hint}`));
  }
  assert.deepEqual(report.tests.map((t) => t.requirement), [
    "4.2.2.2/7",
    "4.2.2.2/7",
    "4.2.2.2/7",
    "2.2.1/1",
    "2.2.1/1",
  ]);
});

Deno.test("a correct solution passes every check", async () => {
  const { report } = await grade("correct");
  assertShape(report);
  assert.equal(report.stage, "test");
  assert.equal(report.ok, true, JSON.stringify(report, null, 2));
  assert.deepEqual([report.passed, report.failed], [5, 0]);
  assert.ok(report.tests.every((t) => t.status === "passed" && t.run === "finished"));
  assert.ok(report.tests.every((t) => t.message === ""));
  assert.equal(report.message, undefined);
});

Deno.test("an independent wrong solution fails its grader with counts and teaching messages", async () => {
  const { report } = await grade("wrong_signed");
  assert.equal(report.ok, false);
  assert.deepEqual([report.passed, report.failed], [2, 3]);
  const unsigned = report.tests.find((t) => t.name === "featureWord values are unsigned")!;
  assert.equal(unsigned.status, "failed");
  assert.equal(unsigned.hint, 2);
  assert.match(unsigned.message, /observed: featureWord\(0x80000000n, 0\) was -0x80000000/);
});

Deno.test("a type error stops grading at the compile stage", async () => {
  const { report } = await grade("compile_error");
  assertShape(report);
  assert.equal(report.stage, "compile");
  assert.equal(report.ok, false);
  assert.deepEqual(report.tests, []);
  assert.match(
    report.compileOutput!,
    /TS2322 \[ERROR\]: Type 'string' is not assignable to type 'number'/,
  );
  assert.match(report.compileOutput!, /01-feature-words\/exercise\.ts:4:3/);
  assert.ok(!report.compileOutput!.includes("file://"), "paths are shown relative, not as URLs");
});

Deno.test("renaming an export the stub has is a compile error that explains itself", async () => {
  const { report } = await grade("missing_export");
  assert.equal(report.stage, "compile");
  assert.match(report.compileOutput!, /Property 'withFeatureWord' is missing/);
  assert.match(report.compileOutput!, /compares the exports of your exercise\.ts with the stub's/);
});

Deno.test("an infinite loop ends with a clear 'timed out' within the limit; later checks did not run", async () => {
  const started = performance.now();
  const { report } = await grade("infinite_loop", 2_000);
  const elapsed = performance.now() - started;
  assertShape(report);
  assert.equal(report.stage, "timeout");
  assert.equal(report.ok, false);
  assert.match(
    report.message!,
    /^timed out after 2 s: is there an infinite loop\? \(the check "featureWord\(word, 0\) is bits 0 to 31" was running\)$/,
  );
  assert.deepEqual(report.tests.map((t) => [t.status, t.run]), [
    ["failed", "timed out"],
    ["failed", "not run"],
    ["failed", "not run"],
    ["failed", "not run"],
    ["failed", "not run"],
  ]);
  assert.match(
    report.tests[0].message,
    /^observed: timed out after 2 s while this check ran: is there an infinite loop\?\nthe spec requires: .+\(§4\.2\.2\.2, requirement 4\.2\.2\.2\/7\)\nread hint 1: deno task lab hint 1 1$/,
  );
  assert.match(
    report.tests[1].message,
    /^observed: this check did not run: grading stopped after 2 s while the check "featureWord\(word, 0\) is bits 0 to 31" was running\n/,
  );
  assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
});

for (
  const [variant, pattern] of [
    ["reads_outside", /refused a permission: Requires read access to "\/etc\/hostname"/],
    ["writes_file", /refused a permission: Requires write access to ".*written\.txt"/],
    [
      "opens_network",
      /failed while loading: it threw NotCapable: Requires net access to "127\.0\.0\.1:8080"/,
    ],
  ] as const
) {
  Deno.test(`the sandbox refuses an exercise that ${variant.replace("_", " ")}, and the JSON says so`, async () => {
    const { report } = await grade(variant);
    assert.equal(report.stage, "test");
    assert.equal(report.ok, false);
    const failed = report.tests.filter((t) => t.status === "failed");
    assert.ok(failed.length >= 1);
    assert.match(failed[0].message, pattern);
    assert.match(failed[0].message, /no write, network, subprocess, environment or FFI access/);
    const json = JSON.parse(JSON.stringify(report));
    assert.match(
      json.tests.find((t: { status: string }) => t.status === "failed").message,
      /NotCapable|refused a permission/,
    );
  });
}

Deno.test("an exercise that throws while loading fails every check with the reason", async () => {
  const { report } = await grade("throws_on_load");
  assert.equal(report.stage, "test");
  assert.equal(report.failed, 5);
  assert.match(
    report.tests[0].message,
    /your exercise module failed while loading: it threw SyntaxError/,
  );
});
