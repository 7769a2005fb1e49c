import assert from "node:assert/strict";
import {
  deepEqual,
  defineGrader,
  describe,
  expectEqual,
  expectThrows,
  expectViolation,
  explainFailure,
  GradeFailure,
  gradeInProcess,
  hex,
} from "../../course/grader.ts";
import { NotWrittenYetError, todo } from "../../course/stub.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import { grader as featureGrader } from "../fixtures/course/lessons/01-feature-words/grader.ts";
import * as reference from "../fixtures/course/lessons/01-feature-words/reference.ts";
import * as stub from "../fixtures/course/lessons/01-feature-words/exercise.ts";
import * as correct from "../fixtures/course/variants/01-feature-words/correct.ts";
import * as wrongSigned from "../fixtures/course/variants/01-feature-words/wrong_signed.ts";

const MANIFEST = new URL("../fixtures/course/lessons/manifest.json", import.meta.url);

Deno.test("defineGrader validates requirement ids, hints and names at definition time", () => {
  const run = () => {};
  assert.throws(
    () =>
      defineGrader({
        lesson: "x",
        // A typo is a type error; the cast stands for a grader written in plain JavaScript.
        checks: [{ name: "a", requirement: "9.9.9/1" as RequirementId, hint: 1, run }],
      }),
    /unknown requirement id "9.9.9\/1"/,
  );
  assert.throws(
    () =>
      defineGrader({
        lesson: "x",
        checks: [{ name: "a", requirement: "4.2.2.1/1", hint: 0, run }],
      }),
    /hint must be a positive integer/,
  );
  assert.throws(
    () =>
      defineGrader({
        lesson: "x",
        checks: [{ name: "a", requirement: "4.2.2.1/1", hint: 1, run }, {
          name: "a",
          requirement: "4.2.2.1/1",
          hint: 1,
          run,
        }],
      }),
    /two checks are named "a"/,
  );
  assert.throws(() => defineGrader({ lesson: "x", checks: [] }), /has no checks/);
});

Deno.test("hint pointers use the lesson's number from the manifest, or its id", () => {
  const run = () => {};
  const g = defineGrader({
    lesson: "status-names",
    manifest: MANIFEST,
    checks: [{ name: "a", requirement: "2.1.1/1", hint: 2, run }],
  });
  assert.equal(g.hintCommand(2), "deno task lab hint 2 2");
  const unknown = defineGrader({
    lesson: "not-in-manifest",
    manifest: MANIFEST,
    checks: [{ name: "a", requirement: "2.1.1/1", hint: 1, run }],
  });
  assert.equal(unknown.hintCommand(1), "deno task lab hint not-in-manifest 1");
  assert.equal(g.testName(g.checks[0]), "a [2.1.1/1]");
});

Deno.test("a GradeFailure reads: observed, what the spec requires with section and id, which hint", () => {
  const failure = new GradeFailure(
    {
      observed: "MagicValue read 0x0",
      expected: "MagicValue to read 0x74726976",
      requirement: "4.2.2.1/1",
      hint: 2,
    },
    "deno task lab hint 1 2",
  );
  assert.equal(
    failure.message,
    "observed: MagicValue read 0x0\n" +
      "the spec requires: MagicValue to read 0x74726976 (§4.2.2.1, requirement 4.2.2.1/1)\n" +
      "read hint 2: deno task lab hint 1 2",
  );
  assert.equal(
    failure.stack,
    `GradeFailure: ${failure.message}`,
    "no grader frames in what a learner sees",
  );
});

Deno.test("the pristine stub fails every check with a 'not written yet' message", async () => {
  const results = await gradeInProcess(featureGrader, stub);
  assert.equal(results.filter((r) => r.status === "failed").length, featureGrader.checks.length);
  for (const r of results) {
    assert.match(
      r.message,
      /^observed: (featureWord|withFeatureWord)\(\) is not written yet: it threw "TODO/,
    );
    assert.match(r.message, /the spec requires: .+ \(§[\d.]+, requirement [\d.]+\/\d+\)/);
    assert.match(r.message, /read hint \d: deno task lab hint 1 \d/);
  }
});

Deno.test("the reference and an independent correct solution pass; a plausible wrong one fails", async () => {
  for (const impl of [reference, correct]) {
    const results = await gradeInProcess(featureGrader, impl);
    assert.deepEqual(results.filter((r) => r.status === "failed").map((r) => r.message), []);
  }
  const wrong = await gradeInProcess(featureGrader, wrongSigned);
  const failed = wrong.filter((r) => r.status === "failed");
  assert.deepEqual(failed.map((r) => r.name), [
    "featureWord values are unsigned",
    "withFeatureWord replaces only the selected half",
    "withFeatureWord refuses a selector other than 0 or 1",
  ]);
  assert.match(failed[0].message, /observed: featureWord\(0x80000000n, 0\) was -0x80000000/);
  assert.match(failed[0].message, /read hint 2/);
});

Deno.test("an implementation that fails to load fails every check with an explanation", async () => {
  const results = await gradeInProcess(
    featureGrader,
    Promise.reject(new SyntaxError("Unexpected end of JSON input")),
  );
  assert.equal(results.length, featureGrader.checks.length);
  for (const r of results) {
    assert.equal(r.status, "failed");
    assert.match(
      r.message,
      /your exercise module failed while loading: it threw SyntaxError: Unexpected end of JSON input/,
    );
  }
});

Deno.test("explainFailure: todo(), TODO errors, permissions, conformance errors and other errors", () => {
  const check = featureGrader.checks[0];
  const notWritten = explainFailure(
    new NotWrittenYetError("checkRegisterAccess", "return the value"),
    featureGrader,
    check,
  );
  assert.match(
    notWritten.message,
    /^observed: checkRegisterAccess\(\) is not written yet: it threw "TODO: return the value"/,
  );
  function queueAlignment(): number {
    throw new Error("TODO");
  }
  let thrown: unknown;
  try {
    queueAlignment();
  } catch (e) {
    thrown = e;
  }
  assert.match(
    explainFailure(thrown, featureGrader, check).message,
    /queueAlignment\(\) is not written yet: it threw "TODO"/,
  );
  const denied = explainFailure(
    new Deno.errors.NotCapable(
      'Requires read access to "/etc/passwd", run again with the --allow-read flag',
    ),
    featureGrader,
    check,
  );
  assert.match(
    denied.message,
    /observed: your code was refused a permission: Requires read access to "\/etc\/passwd"( \(grader_test.ts:\d+\))?\n/,
  );
  assert.match(denied.message, /no write, network, subprocess, environment or FFI access/);
  const log = new ConformanceLog({ strict: true });
  try {
    log.report({ id: "4.2.2.2/7", message: "Read of DeviceFeatures before DeviceFeaturesSel" });
  } catch (e) {
    thrown = e;
  }
  assert.match(
    explainFailure(thrown, featureGrader, check).message,
    /a conformance violation was reported: §4.2.2.2\/7/,
  );
  try {
    log.report({ id: "2.2.1/1", message: "Driver accepted bit 6, never offered" });
  } catch (e) {
    thrown = e;
  }
  const other1 = explainFailure(thrown, featureGrader, check);
  assert.equal(other1.requirement, "2.2.1/1", "the rule actually broken is cited, not the check's");
  assert.match(other1.message, /\(§2\.2\.1, requirement 2\.2\.1\/1\)/);
  assert.match(
    other1.message,
    new RegExp(`this check is about ${check.requirement.replaceAll(".", "\\.")}`),
  );
  const other = explainFailure(new RangeError("index 9 out of range"), featureGrader, check);
  assert.match(other.message, /^observed: it threw RangeError: index 9 out of range/);
  assert.match(
    other.message,
    /the spec requires: DeviceFeatures with DeviceFeaturesSel = 0 to show feature bits 0 to 31/,
  );
});

Deno.test("expectThrows passes a stub's todo() through instead of counting it as 'threw'", async () => {
  await assert.rejects(
    expectThrows(() => todo("f"), "f()", { requires: "f to refuse" }),
    (e: unknown) => e instanceof NotWrittenYetError,
  );
  await assert.rejects(
    expectThrows(() => 1, "f()", { requires: "f to refuse" }),
    (e: unknown) =>
      e instanceof GradeFailure && /f\(\) returned 1 without an error/.test(e.message),
  );
  await assert.rejects(
    expectThrows(
      () => {
        throw new TypeError("x");
      },
      "f()",
      { requires: "a RangeError", accept: (e) => e instanceof RangeError },
    ),
    /f\(\) threw TypeError: x/,
  );
  assert.ok(
    await expectThrows(() => Promise.reject(new RangeError("r")), "f()", {
      requires: "r",
    }) instanceof RangeError,
  );
});

Deno.test("expectEqual, expectViolation, hex, describe, deepEqual", () => {
  expectEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]), "bytes");
  assert.throws(
    () => expectEqual(0, 0x74726976, "MagicValue", { format: hex }),
    /observed: MagicValue was 0x0\nthe spec requires: MagicValue to be 0x74726976/,
  );
  const log = new ConformanceLog();
  assert.throws(
    () => expectViolation(log, "4.2.2.2/7", "a read of DeviceFeatures"),
    /no violation of 4.2.2.2\/7 was reported \(the log is empty\)/,
  );
  log.report({ id: "4.2.2.2/7", message: "x" });
  expectViolation(log, "4.2.2.2/7", "a read of DeviceFeatures");
  assert.equal(hex(5, 2), "0x05");
  assert.equal(hex(0x1_0000_0000n), "0x100000000");
  assert.equal(describe(4096), "4096 (0x1000)");
  assert.equal(describe("virt"), '"virt"');
  assert.ok(deepEqual({ a: [1, 2n] }, { a: [1, 2n] }));
  assert.ok(!deepEqual({ a: 1 }, { a: 1, b: undefined }));
  assert.ok(!deepEqual(new Uint8Array([1]), new Uint16Array([1])));
});
