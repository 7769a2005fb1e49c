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
    /· 2 checks did not run: the test process exited with status 0 while the check "Version reads 2" was\s+running/,
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

/** A check that failed only because `name()` still calls todo(). */
function unwritten(name: string, check: string): GradeReport["tests"][number] {
  return {
    ...failing.tests[1],
    name: check,
    message: `observed: ${name}() is not written yet: it threw "TODO: return the value" ` +
      `(exercise.ts:12)\nthe spec requires: MagicValue to read 0x74726976 (§4.2.2.1, requirement ` +
      `4.2.2.1/1)\nread hint 1: deno task lab hint 1 1`,
  };
}

const stub: GradeReport = {
  ...failing,
  expected: 3,
  passed: 0,
  failed: 3,
  tests: [
    unwritten("readIdentification", "MagicValue reads virt"),
    unwritten("readIdentification", "Version reads 2"),
    unwritten("probeWindow", "probeWindow identifies a device"),
  ],
};

Deno.test("an exercise still the stub gets one line naming the functions, not a wall of failures", () => {
  const text = renderReport(stub, { color: false, width: 100 });
  for (const line of renderReport(stub, { color: false, width: 60 }).split("\n")) {
    assert.ok(line.length <= 60, line);
  }
  assert.equal(
    text,
    "Lesson 1 · The <MMIO> window  (workspace/01-mmio-window/exercise.ts)\n" +
      "· not written yet: replace the todo() calls in workspace/01-mmio-window/exercise.ts\n" +
      "  still to write: readIdentification(), probeWindow()\n" +
      "\n" +
      "FAIL lesson 1: 3 of 3 checks failed (0.41 s)",
  );
  // --verbose still shows every check in full.
  const verbose = renderReport(stub, { color: false, width: 80, verbose: true });
  assert.equal(verbose.match(/observed:/g)?.length, 3);
  assert.match(verbose, /│ ✘ {2}│ MagicValue reads virt/);
});

Deno.test("a partly written exercise shows its real failures in full and the unwritten ones in one line", () => {
  const partial: GradeReport = {
    ...stub,
    passed: 1,
    failed: 2,
    tests: [failing.tests[0], failing.tests[1], unwritten("probeWindow", "probeWindow works")],
  };
  const text = renderReport(partial, { color: false, width: 80 });
  assert.equal(text.match(/observed:/g)?.length, 1, "only the real failure in full");
  assert.match(
    text,
    /✘ MagicValue reads "virt" \[4\.2\.2\.1\/1\]\n {2}observed: MagicValue read 0x0/,
  );
  assert.match(
    text,
    /· 1 check fails only because probeWindow\(\) is not written yet: replace the\s+todo\(\) calls/,
  );
  assert.ok(!text.includes("not written yet: replace the todo() calls in"));
});

Deno.test("failure details wrap at word boundaries under their own indent at 60, 80 and 120 columns", () => {
  const long: GradeReport = {
    ...failing,
    tests: [failing.tests[0], {
      ...failing.tests[1],
      message: "observed: probeWindow() read MagicValue, then wrote Status before reading " +
        "Version, DeviceID and VendorID, which a driver may not do yet\n" +
        "the spec requires: the driver to read MagicValue, Version, DeviceID and VendorID " +
        "before anything else (§4.2.2.1, requirement 4.2.2.1/1)",
    }],
  };
  const words = (s: string) => s.split(/\s+/).filter(Boolean);
  for (const width of [60, 80, 120]) {
    const text = renderReport(long, { color: false, width });
    const lines = text.split("\n");
    for (const line of lines) assert.ok(line.length <= width, `${line.length} > ${width}: ${line}`);
    const at = lines.findIndex((l) => l.startsWith("  observed:"));
    const end = lines.findIndex((l, i) => i > at && l === "");
    const detail = lines.slice(at, end);
    // Continuation lines hang under the text (4 spaces), and no word is cut.
    for (const line of detail.slice(1)) assert.match(line, /^ {2}(the spec requires:| {2}\S)/);
    assert.deepEqual(words(detail.join(" ")), words(long.tests[1].message));
  }
});

Deno.test("with links on, requirement ids and sections are OSC 8 links to the spec, the path to its file", () => {
  const text = renderReport(failing, {
    color: true,
    width: 100,
    links: true,
    exerciseUrl: "file:///home/me/workspace/01-mmio-window/exercise.ts",
  });
  const url = "https://docs.oasis-open.org/virtio/virtio/v1.2/csd01/virtio-v1.2-csd01.html" +
    "#:~:text=4.2.2.1-,Device%20Requirements%3A%20MMIO%20Device%20Register%20Layout";
  assert.ok(text.includes(`\x1b]8;;${url}\x07§4.2.2.1\x1b]8;;\x07`), "§ in the message");
  assert.ok(text.includes(`\x1b]8;;${url}\x074.2.2.1/1\x1b]8;;\x07`), "id in the detail");
  const row = text.split("\n").find((l) =>
    l.includes('MagicValue reads "virt"') && l.includes("│")
  )!;
  assert.ok(row.includes(`\x1b]8;;${url}\x074.2.2.1/1\x1b]8;;\x07`), "id in the table");
  assert.ok(
    text.includes(
      "\x1b]8;;file:///home/me/workspace/01-mmio-window/exercise.ts\x07" +
        "workspace/01-mmio-window/exercise.ts\x1b]8;;\x07",
    ),
  );
  // What the terminal shows is the same text as without links.
  assert.equal(stripAnsi(text), renderReport(failing, { color: false, width: 100 }));
  assert.ok(!renderReport(failing, { color: true, width: 100 }).includes("\x1b]8;;"));
});

Deno.test("the summary of the whole course fits 60 columns, titles wrapped at spaces", () => {
  const long = {
    ...failing,
    lesson: { ...failing.lesson, title: "Popping a chain without trusting the driver" },
  };
  const text = renderSummary([failing, long], { color: false, width: 60 });
  for (const line of text.split("\n")) assert.ok(line.length <= 60, `${line.length}: ${line}`);
  assert.match(text, /│ Popping a chain +│[^\n]*\n│ +│ without trusting +│/);
});
