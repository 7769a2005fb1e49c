import assert from "node:assert/strict";
import {
  renderReport,
  renderReportHtml,
  renderReportJson,
  renderReportPlain,
  renderSummary,
  stripAnsi,
  verdict,
  withDisplay,
} from "../../course/report.ts";
import type { GradeReport } from "../../course/runner.ts";
import { parseJunit } from "../../course/junit.ts";

const failing: GradeReport = {
  lesson: { number: 1, id: "mmio-window", dir: "01-mmio-window", title: "The <MMIO> window" },
  stage: "test",
  ok: false,
  passed: 1,
  failed: 1,
  durationMs: 412,
  timeoutMs: 20_000,
  file: "workspace/01-mmio-window/exercise.ts",
  tests: [
    {
      name: "Version reads 2",
      status: "passed",
      message: "",
      requirement: "4.2.2.1/2",
      section: "4.2.2.1",
      hint: null,
      durationMs: 1,
    },
    {
      name: 'MagicValue reads "virt"',
      status: "failed",
      message:
        "observed: MagicValue read 0x0\nthe spec requires: MagicValue to read 0x74726976 (§4.2.2.1, requirement 4.2.2.1/1)\nread hint 1: deno task lab hint 1 1",
      requirement: "4.2.2.1/1",
      section: "4.2.2.1",
      hint: 1,
      durationMs: 2,
    },
  ],
};

Deno.test("the terminal renderer shows the table, the failure in full and the verdict; no colour when asked", () => {
  const text = renderReport(failing, { color: false, width: 100 });
  assert.equal(text, stripAnsi(text), "no ANSI codes without colour");
  assert.match(text, /Lesson 1 · The <MMIO> window/);
  assert.match(text, /│ ✘ {2}│ MagicValue reads "virt" +│ 4\.2\.2\.1\/1/);
  assert.match(
    text,
    /observed: MagicValue read 0x0\n {2}the spec requires: MagicValue to read 0x74726976 \(§4\.2\.2\.1, requirement 4\.2\.2\.1\/1\)/,
  );
  assert.match(text, /FAIL lesson 1: 1 of 2 checks failed \(0\.41 s\)$/);
  assert.notEqual(renderReport(failing, { color: true, width: 100 }), text);
});

Deno.test("plain, HTML and JSON renderers", () => {
  const plain = renderReportPlain(failing);
  assert.match(
    plain,
    / {2}✔ Version reads 2 \[4\.2\.2\.1\/2\]\n {2}✘ MagicValue reads "virt" \[4\.2\.2\.1\/1\]\n {6}observed:/,
  );
  const html = renderReportHtml(failing);
  assert.match(html, /<table>/);
  assert.match(html, /The &lt;MMIO&gt; window/);
  assert.match(html, /MagicValue reads &quot;virt&quot;/);
  assert.ok(!html.includes("<MMIO>"));
  assert.deepEqual(JSON.parse(renderReportJson(failing)), failing);
});

Deno.test("withDisplay adds Jupyter and REPL forms without changing the JSON", () => {
  const shown = withDisplay(failing);
  assert.deepEqual(JSON.parse(JSON.stringify(shown)), failing);
  const display = (shown[Symbol.for("Jupyter.display")] as () => Record<string, string>)();
  assert.deepEqual(Object.keys(display).sort(), ["text/html", "text/plain"]);
  assert.match(Deno.inspect(shown), /FAIL lesson 1/);
});

Deno.test("verdicts for each stage, and the summary of several lessons", () => {
  assert.match(
    verdict({ ...failing, stage: "compile", tests: [], passed: 0, failed: 0 }),
    /type errors, no check ran/,
  );
  assert.match(
    verdict({
      ...failing,
      stage: "timeout",
      message: "timed out after 20 s: is there an infinite loop?",
    }),
    /timed out after 20 s/,
  );
  assert.match(
    verdict({ ...failing, ok: true, failed: 0, passed: 2 }),
    /^PASS lesson 1: all 2 checks passed/,
  );
  const summary = renderSummary([failing, {
    ...failing,
    ok: true,
    lesson: { ...failing.lesson, number: 2 },
  }], { color: false });
  assert.match(summary, /1 of 2 lessons pass/);
});

Deno.test("parseJunit reads Deno's JUnit output: names, times, failures, skips, entities", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="3" failures="1" errors="0" time="0.030">
    <testsuite name="./a_test.ts" tests="3" disabled="1" errors="0" failures="1">
        <testcase name="passes [4.2.2.1/1]" classname="./a_test.ts" time="0.001" line="1" col="6">
        </testcase>
        <testcase name="fails &lt;&amp;&gt; &quot;q&quot;" classname="./a_test.ts" time="0.006" line="2" col="6">
            <failure message="Uncaught GradeFailure: observed: 1
the spec requires: 2 &amp; &lt;x&gt;">GradeFailure: observed: 1</failure>
        </testcase>
        <testcase name="ign" classname="./a_test.ts" time="0.000" line="6" col="6">
            <skipped/>
        </testcase>
    </testsuite>
</testsuites>`;
  const cases = parseJunit(xml);
  assert.deepEqual(cases.map((c) => [c.name, c.status, c.time]), [
    ["passes [4.2.2.1/1]", "passed", 0.001],
    ['fails <&> "q"', "failed", 0.006],
    ["ign", "ignored", 0],
  ]);
  assert.equal(
    cases[1].failureMessage,
    "Uncaught GradeFailure: observed: 1\nthe spec requires: 2 & <x>",
  );
  assert.deepEqual(parseJunit(""), []);
});
