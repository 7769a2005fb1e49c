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

const failing: GradeReport = {
  lesson: { number: 1, id: "mmio-window", dir: "01-mmio-window", title: "The <MMIO> window" },
  stage: "test",
  ok: false,
  expected: 2,
  passed: 1,
  failed: 1,
  durationMs: 412,
  timeoutMs: 20_000,
  memory: { limitBytes: 1024 ** 3, heapLimitBytes: 512 * 1024 ** 2, enforcedBy: "rlimit" },
  file: "workspace/01-mmio-window/exercise.ts",
  tests: [
    {
      name: "Version reads 2",
      status: "passed",
      run: "finished",
      message: "",
      requirement: "4.2.2.1/2",
      section: "4.2.2.1",
      hint: null,
      durationMs: 1,
    },
    {
      name: 'MagicValue reads "virt"',
      status: "failed",
      run: "finished",
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
  assert.match(
    html,
    /^<div [^>]*data-virtio-lab="grade-report">\n<p data-virtio-lab="verdict"[^>]*>✘ FAIL lesson 1: 1 of 2 checks failed/,
  );
  assert.match(html, /<table [^>]*data-virtio-lab="grade-checks">/);
  assert.match(
    html,
    /<details open data-virtio-lab="failure"><summary[^>]*>✘ MagicValue reads &quot;virt&quot; <code>4\.2\.2\.1\/1<\/code><\/summary><pre[^>]*>observed: MagicValue read 0x0\n/,
  );
  assert.match(html, /read hint 1: deno task lab hint 1 1<\/pre>/, "the grader's words by default");
  assert.doesNotMatch(html, /Stuck\?/, "no call to name without hintCall");
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

Deno.test("with a hint call, the report names the call to type instead of the shell command", () => {
  const call = (n?: number) => (n === undefined ? "hint(LESSON)" : `hint(LESSON, ${n})`);
  const shown = withDisplay(failing, { hintCall: call });
  const display = (shown[Symbol.for("Jupyter.display")] as () => Record<string, string>)();
  assert.match(display["text/html"], /read hint 1: hint\(LESSON, 1\)<\/pre>/);
  assert.match(
    display["text/html"],
    /Stuck\? <code>hint\(LESSON\)<\/code> in a cell shows the next hint/,
  );
  assert.doesNotMatch(display["text/html"], /deno task/);
  assert.match(display["text/plain"], /read hint 1: hint\(LESSON, 1\)$/m);
  assert.match(Deno.inspect(shown), /read hint 1: hint\(LESSON, 1\)/);
  assert.match(
    renderReportPlain(failing),
    /read hint 1: deno task lab hint 1 1/,
    "unchanged by default",
  );
});

Deno.test("a pristine stub shows one not-written-yet line in the notebook, the checks folded", () => {
  const todo = (name: string, requirement: string) => ({
    ...failing.tests[1],
    name,
    requirement,
    message:
      `observed: readIdentification() is not written yet: it threw "TODO" (exercise.ts:68)\n` +
      "replace the todo() or TODO in your exercise.ts with your code, then check again",
  });
  const pristine: GradeReport = {
    ...failing,
    passed: 0,
    failed: 2,
    tests: [todo("a", "4.2.2.1/1"), todo("b", "4.2.2.1/2")],
  };
  const html = renderReportHtml(pristine);
  assert.match(
    html,
    /<p data-virtio-lab="not-written"[^>]*>Not written yet: replace the <code>todo\(\)<\/code> calls in <code>workspace\/01-mmio-window\/exercise\.ts<\/code>/,
  );
  assert.match(
    html,
    /<details><summary style="display:list-item[^"]*">the 2 checks waiting for it<\/summary>\n<table/,
  );
  assert.doesNotMatch(html, /<details open/, "nothing unfolded");
  // One real failure among them: the usual report.
  const mixed = renderReportHtml({ ...pristine, tests: [...pristine.tests, failing.tests[1]] });
  assert.doesNotMatch(mixed, /not-written/);
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

const cutShort: GradeReport = {
  ...failing,
  expected: 3,
  passed: 0,
  failed: 3,
  message:
    'grading stopped before every check was reported: the test process exited with status 0 while the check "Version reads 2" was running',
  tests: [
    {
      ...failing.tests[0],
      status: "failed",
      run: "interrupted",
      message: "observed: the test process exited with status 0 while this check ran\n" +
        "the spec requires: Version (0x004) to read 2 (§4.2.2.1, requirement 4.2.2.1/2)",
    },
    ...['MagicValue reads "virt"', "DeviceID is the device's"].map((name) => ({
      ...failing.tests[1],
      name,
      run: "not run" as const,
      durationMs: 0,
      message: "observed: this check did not run: the test process exited with status 0 while " +
        'the check "Version reads 2" was running\nthe spec requires: ...',
    })),
  ],
};

Deno.test("a check that did not run or was cut short is shown as such, not as a plain failure", () => {
  const text = renderReport(cutShort, { color: false, width: 100 });
  assert.match(text, /│ ✘ {2}│ Version reads 2 +│ 4\.2\.2\.1\/2 +│ +cut short │/);
  assert.match(text, /│ · {2}│ MagicValue reads "virt" +│ 4\.2\.2\.1\/1 +│ did not run │/);
  assert.match(
    text,
    /· 2 checks did not run: the test process exited with status 0 while the check "Version reads 2" was running/,
  );
  assert.equal(text.match(/observed:/g)?.length, 1, "only the check that ran is shown in full");
  assert.match(text, /FAIL lesson 1: 3 of 3 checks failed; 1 did not finish, 2 did not run/);
  const plain = renderReportPlain(cutShort);
  assert.match(plain, / {2}· MagicValue reads "virt" \[4\.2\.2\.1\/1\] \(did not run\)\n/);
  assert.match(plain, / {2}✘ Version reads 2 \[4\.2\.2\.1\/2\] \(cut short\)\n {6}observed:/);
  const html = renderReportHtml(cutShort);
  assert.match(html, />did not run</);
  assert.match(html, /2 checks did not run/);
  assert.match(renderSummary([cutShort], { color: false }), /│ FAIL +│ +0\/3 │/);
});
