/**
 * Renderers for a {@linkcode GradeReport}: the terminal (a cli-table3 table,
 * coloured unless `NO_COLOR` is set or the output is not a terminal), plain
 * text (logs, the REPL, Jupyter's `text/plain`), an HTML table (Jupyter's
 * `text/html`) and JSON (`lab check --json`, CI).
 *
 * @module
 */

import { escapeHtml, htmlTable } from "../format/html.ts";
import { hyperlink, specSectionUrl } from "../format/links.ts";
import { wrapLines } from "../format/wrap.ts";
import { SECTION_TITLES } from "../conformance/requirements.ts";
import Table from "cli-table3";
import type { GradeReport, GradeTest } from "./grade_report.ts";

/** Options of the text renderers. */
export interface RenderOptions {
  /** Use ANSI colours (default: {@linkcode colorEnabled}). */
  readonly color?: boolean;
  /** Show every failure in full (default: the first 3, then a count). */
  readonly verbose?: boolean;
  /** Terminal width in columns (default: the terminal's, or 100). */
  readonly width?: number;
  /**
   * Print OSC 8 hyperlinks: requirement ids and `§` sections to the virtio
   * 1.2 HTML specification, the exercise path to {@linkcode exerciseUrl}
   * (default false; the `lab` command decides from the terminal).
   */
  readonly links?: boolean;
  /** The exercise file's `file://` URL, linked from its path when `links` is on. */
  readonly exerciseUrl?: string;
}

const MAX_DETAILED_FAILURES = 3;

/**
 * Whether to colour output written to stdout: not when `NO_COLOR` is set
 * (https://no-color.org), and not when stdout is not a terminal.
 */
export function colorEnabled(): boolean {
  try {
    if (Deno.env.get("NO_COLOR")) return false;
  } catch {
    return false;
  }
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

/** ANSI styling that is a no-op when colour is off. */
export function painter(
  color: boolean,
): Record<"green" | "red" | "yellow" | "dim" | "bold" | "cyan", (s: string) => string> {
  const wrap = (open: number, close: number) => (s: string) =>
    color ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  return {
    green: wrap(32, 39),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

/** Removes ANSI escape sequences: colours (CSI) and OSC 8 hyperlinks (their text stays). */
export function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, "");
}

function terminalWidth(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 100;
  }
}

/**
 * The one-line verdict, e.g. `"FAIL lesson 1: 2 of 5 checks failed (0.41 s)"`
 * or `"FAIL lesson 1: 15 of 15 checks failed; 1 did not finish, 14 did not run (0.12 s)"`.
 */
export function verdict(report: GradeReport): string {
  const n = report.lesson.number;
  const time = `${(report.durationMs / 1000).toFixed(2)} s`;
  switch (report.stage) {
    case "compile":
      return `FAIL lesson ${n}: type errors, no check ran; fix ${report.file} and check again (${time})`;
    case "timeout":
      return `FAIL lesson ${n}: ${report.message ?? "timed out"}`;
    case "error":
      return `FAIL lesson ${n}: the grader could not run (${time})`;
    case "test": {
      if (report.ok) return `PASS lesson ${n}: all ${report.expected} checks passed (${time})`;
      const notRun = report.tests.filter((t) => t.run === "not run").length;
      const unfinished =
        report.tests.filter((t) => t.run === "interrupted" || t.run === "timed out").length;
      const why = [
        unfinished ? `${unfinished} did not finish` : "",
        notRun ? `${notRun} did not run` : "",
      ].filter(Boolean);
      if (report.failed === 0) {
        return `FAIL lesson ${n}: grading did not finish (${
          report.message ?? "incomplete"
        }) (${time})`;
      }
      return `FAIL lesson ${n}: ${report.failed} of ${report.expected} checks failed` +
        (why.length ? `; ${why.join(", ")}` : "") + ` (${time})`;
    }
  }
}

/** What the time column shows: the duration, or how the check's run ended. */
function runCell(test: GradeTest): string {
  switch (test.run) {
    case "finished":
      return formatMs(test.durationMs);
    case "not run":
      return "did not run";
    case "timed out":
      return "timed out";
    case "interrupted":
      return "cut short";
  }
}

function mark(test: GradeTest, unicode = true): string {
  if (test.status === "passed") return unicode ? "✔" : "ok";
  if (test.run === "not run") return unicode ? "·" : "skip";
  return unicode ? "✘" : "FAIL";
}

/** The failures worth showing in full: every check that ran (or was cut short), not those that never started. */
function detailedFailures(report: GradeReport): GradeTest[] {
  return report.tests.filter((t) => t.status === "failed" && t.run !== "not run" && t.message);
}

/** One line for the checks that did not run, or "" when all ran. */
function notRunLine(report: GradeReport): string {
  const notRun = report.tests.filter((t) => t.run === "not run");
  if (notRun.length === 0) return "";
  const reason = /^observed: this check did not run: (.*)$/m.exec(notRun[0].message)?.[1];
  const count = notRun.length === 1 ? "1 check" : `${notRun.length} checks`;
  return `${count} did not run${reason ? `: ${reason}` : ""}`;
}

/** The function a "not written yet" failure names (`todo()` still in it), or `null`. */
export function unwrittenPart(test: GradeTest): string | null {
  if (test.status !== "failed" || test.run !== "finished") return null;
  return /^observed: ([\w$.#]+)\(\) is not written yet\b/.exec(test.message)?.[1] ?? null;
}

/**
 * Whether the exercise is still the stub: the checks ran, none passed, and
 * every one failed only because a function still calls `todo()`.
 */
export function notStarted(report: GradeReport): boolean {
  return report.stage === "test" && report.passed === 0 && report.tests.length > 0 &&
    report.tests.every((t) => t.run === "not run" || unwrittenPart(t) !== null) &&
    report.tests.some((t) => unwrittenPart(t) !== null);
}

/** The functions named by "not written yet" failures, once each, in order. */
function unwrittenParts(tests: readonly GradeTest[]): string[] {
  return [...new Set(tests.map(unwrittenPart).filter((name): name is string => name !== null))];
}

/** Where a requirement id leads: its section of the spec. */
function requirementUrl(id: string, section: string | null): string {
  const s = section ?? id.split("/")[0];
  return specSectionUrl(SECTION_TITLES[s], s);
}

/** `4.2.2.1/1` linked to its section of the spec (when links are on). */
function requirementLink(id: string, section: string | null, links: boolean): string {
  return hyperlink(id, requirementUrl(id, section), links);
}

/**
 * Renders a report for a terminal: a table of checks, the failures in full
 * (what was observed, what the spec requires, which hint), and the verdict.
 * Prose is wrapped at word boundaries to the width. An exercise that is
 * still the stub (every check fails on a `todo()`) gets one line instead of
 * a table of identical failures, unless `verbose`; a partly written one
 * names the functions still to write in one line.
 *
 * @param report The report.
 * @param options Colour, verbosity, width, links.
 */
export function renderReport(report: GradeReport, options: RenderOptions = {}): string {
  const color = options.color ?? colorEnabled();
  const links = options.links ?? false;
  const p = painter(color);
  const width = Math.max(40, Math.min(options.width ?? terminalWidth(), 140));
  const wrap = (text: string, hang = 2) => wrapLines(text, width, hang);
  const file = options.exerciseUrl
    ? hyperlink(report.file, options.exerciseUrl, links)
    : report.file;
  const out: string[] = [
    wrap(p.bold(`Lesson ${report.lesson.number} · ${report.lesson.title}`) + p.dim(`  (${file})`)),
  ];
  if (notStarted(report) && !options.verbose) {
    const names = unwrittenParts(report.tests).map((name) => `${name}()`);
    out.push(
      wrap(p.yellow(`· not written yet: replace the todo() calls in ${file}`)),
      p.dim(wrap(`  still to write: ${names.join(", ")}`)),
      "",
      p.red(p.bold(wrap(verdict(report)))),
    );
    return out.join("\n");
  }
  if (report.stage === "compile") {
    out.push(p.red(wrap("compile stage: deno check found type errors, so no check ran.")));
    out.push(indent(report.compileOutput ?? "", "  "));
    out.push(
      p.dim(wrap(
        "  Type errors are reported like a build failure. Keep the names and types the stub " +
          "exports; the grader relies on them.",
      )),
    );
  }
  if (report.tests.length > 0) {
    const reqWidth = Math.max(13, ...report.tests.map((t) => (t.requirement ?? "").length + 2));
    const timeWidth = 13;
    // 5 borders; the check names take what is left.
    const nameWidth = Math.max(16, width - 4 - reqWidth - timeWidth - 5);
    const table = new Table({
      head: ["", "check", "requirement", "time"],
      colWidths: [4, nameWidth, reqWidth, timeWidth],
      colAligns: ["center", "left", "left", "right"],
      wordWrap: true,
      style: { head: color ? ["cyan"] : [], border: color ? ["grey"] : [], compact: true },
    });
    for (const t of report.tests) {
      const m = t.status === "passed"
        ? p.green(mark(t))
        : t.run === "not run"
        ? p.dim(mark(t))
        : p.red(mark(t));
      table.push([m, t.name, t.requirement ?? "", runCell(t)]);
    }
    let drawn = color ? table.toString() : stripAnsi(table.toString());
    if (links) {
      // Linked after layout: the cell widths cli-table3 measures stay those of the ids
      // (its own hyperlink cells miscount URLs with a text fragment's comma).
      const sections = new Map(report.tests.map((t) => [t.requirement, t.section]));
      drawn = drawn.replace(
        // deno-lint-ignore no-control-regex
        /(?<=│(?:\x1b\[\d+m)* )(\d+(?:\.\d+)*\/[A-Za-z]*\d+)(?= +(?:\x1b\[\d+m)*│)/g,
        (id: string) => requirementLink(id, sections.get(id) ?? null, true),
      );
    }
    out.push(drawn);
  }
  const unwritten = options.verbose ? [] : report.tests.filter((t) => unwrittenPart(t) !== null);
  const failures = detailedFailures(report).filter((t) => !unwritten.includes(t));
  const shown = options.verbose ? failures : failures.slice(0, MAX_DETAILED_FAILURES);
  for (const t of shown) {
    const id = t.requirement ? p.dim(` [${requirementLink(t.requirement, t.section, links)}]`) : "";
    out.push("", wrap(p.red(`✘ ${t.name}`) + id));
    out.push(wrap(indent(highlightMessage(t.message, p, links), "  ")));
  }
  if (failures.length > shown.length) {
    out.push(
      "",
      p.dim(wrap(
        `... and ${
          failures.length - shown.length
        } more failure(s): run with --verbose to see them all`,
      )),
    );
  }
  if (unwritten.length > 0) {
    const names = unwrittenParts(unwritten).map((name) => `${name}()`);
    const count = unwritten.length === 1 ? "1 check fails" : `${unwritten.length} checks fail`;
    out.push(
      "",
      p.yellow(wrap(
        `· ${count} only because ${names.join(", ")} ${
          names.length === 1 ? "is" : "are"
        } not written yet: replace the todo() calls with your code.`,
      )),
    );
  }
  const skipped = notRunLine(report);
  if (skipped) out.push("", p.yellow(wrap(`· ${skipped}`)));
  if (report.stage === "test" && report.message && !skipped) {
    out.push("", p.yellow(wrap(report.message)));
  }
  if (report.stage === "error" && report.message) {
    out.push("", p.red("The grader could not run:"), wrap(indent(report.message, "  ")));
  }
  if (report.stage === "timeout") {
    out.push(
      "",
      wrap(
        p.yellow(`The run was stopped after ${report.timeoutMs / 1000} s.`) +
          p.dim(
            " Look for a loop whose exit condition never becomes true (a ring index that never advances?).",
          ),
      ),
    );
  }
  const line = wrap(verdict(report));
  out.push("", report.ok ? p.green(p.bold(line)) : p.red(p.bold(line)));
  return out.join("\n");
}

function highlightMessage(message: string, p: ReturnType<typeof painter>, links = false): string {
  const linked = links
    ? message.replace(
      /§(\d+(?:\.\d+)*)|(?<=requirement )(\d+(?:\.\d+)*\/[A-Za-z]*\d+)/g,
      (whole, section: string | undefined, id: string | undefined) =>
        section !== undefined
          ? hyperlink(whole, specSectionUrl(SECTION_TITLES[section], section), true)
          : requirementLink(id!, null, true),
    )
    : message;
  return linked.split("\n").map((line) => {
    if (line.startsWith("observed: ")) return `${p.bold("observed:")} ${line.slice(10)}`;
    if (line.startsWith("the spec requires: ")) {
      return `${p.bold("the spec requires:")} ${line.slice(19)}`;
    }
    if (line.startsWith("read hint ")) return p.yellow(line);
    return line;
  }).join("\n");
}

/**
 * Renders a report as plain text with no table and no colour (logs, the
 * REPL, Jupyter's `text/plain`).
 *
 * @param report The report.
 * @param options How to name the hint call.
 */
export function renderReportPlain(report: GradeReport, options: DisplayOptions = {}): string {
  const out = [`Lesson ${report.lesson.number} · ${report.lesson.title} (${report.file})`];
  if (report.stage === "compile") {
    out.push(
      "compile stage: deno check found type errors, so no check ran.",
      indent(report.compileOutput ?? "", "  "),
    );
  }
  for (const t of report.tests) {
    const how = t.run === "finished" ? "" : ` (${runCell(t)})`;
    out.push(`  ${mark(t)} ${t.name}${t.requirement ? ` [${t.requirement}]` : ""}${how}`);
    if (t.status === "failed" && t.run !== "not run" && t.message) {
      out.push(indent(retargetHints(t.message, options), "      "));
    }
  }
  const skipped = notRunLine(report);
  if (skipped) out.push(skipped);
  if (report.stage === "error" && report.message) {
    out.push("The grader could not run:", indent(report.message, "  "));
  }
  out.push(verdict(report));
  return out.join("\n");
}

/** Where a report is shown, so it can name the call that shows a hint there. */
export interface DisplayOptions {
  /**
   * What the learner types where the report is shown to see hint `n`, or
   * the next hint when `n` is omitted: in a notebook
   * `` (n) => n ? `hint(LESSON, ${n})` : "hint(LESSON)" ``. The graders'
   * messages end in `read hint N: deno task lab hint ...`; with this set,
   * that command is replaced by the call, and a failing report ends by
   * naming the call for the next hint. Default: the messages as the grader
   * wrote them.
   */
  readonly hintCall?: (hint?: number) => string;
}

/** A grader's `read hint N: <command>` line. */
const HINT_LINE = /^read hint (\d+): .*$/gm;

function retargetHints(message: string, options: DisplayOptions): string {
  const call = options.hintCall;
  return call
    ? message.replace(HINT_LINE, (_m, n: string) => `read hint ${n}: ${call(Number(n))}`)
    : message;
}

/** A failure the grader explained as an unwritten part (`course/grading/explain.ts`). */
const NOT_WRITTEN = /^observed: \S+ is not written yet: /;

/** Whether every check failed only because the exercise is not written yet (a pristine stub). */
function notStartedYet(report: GradeReport): boolean {
  const failures = detailedFailures(report);
  return report.stage === "test" && report.passed === 0 && failures.length > 0 &&
    failures.every((t) => NOT_WRITTEN.test(t.message));
}

const GREEN = "#1a7f37";
const RED = "#cf222e";
const GREY = "#6e7781";
const PRE = "white-space:pre-wrap;margin:4px 0 8px 1.2em;text-align:left";
/** Jupyter's stylesheets hide the disclosure triangle of `<summary>`: put it back. */
const SUMMARY = "display:list-item;cursor:pointer";

/**
 * Renders a report as an HTML fragment for a notebook: the verdict first, in
 * colour; the lesson and file; a left-aligned table of the checks; then each
 * failure folded in a `<details>` element (the first one open) with what was
 * observed, what the spec requires, and which hint to read, named as the
 * call to type (see {@linkcode DisplayOptions.hintCall}).
 *
 * @param report The report.
 * @param options How to name the hint call.
 * @returns An HTML fragment (a `<div data-virtio-lab="grade-report">`).
 */
export function renderReportHtml(report: GradeReport, options: DisplayOptions = {}): string {
  const ok = report.ok;
  const parts = [
    `<div class="virtio-lab-report" data-virtio-lab="grade-report">`,
    `<p data-virtio-lab="verdict" style="color:${ok ? GREEN : RED};font-weight:bold;` +
    `font-size:110%;margin:4px 0">${ok ? "✔" : "✘"} ${escapeHtml(verdict(report))}</p>`,
    `<p style="margin:2px 0;color:${GREY}">Lesson ${report.lesson.number} · ` +
    `${escapeHtml(report.lesson.title)} · <code>${escapeHtml(report.file)}</code></p>`,
  ];
  if (report.stage === "compile") {
    parts.push(
      `<details open><summary style="${SUMMARY};color:${RED}"><code>deno check</code> found type errors, ` +
        `so no check ran</summary><pre style="${PRE}">${
          escapeHtml(report.compileOutput ?? "")
        }</pre></details>`,
    );
  }
  // A pristine stub: one line, not a wall of identical failures (folded below).
  const notStarted = notStartedYet(report);
  if (notStarted) {
    parts.push(
      `<p data-virtio-lab="not-written" style="margin:4px 0">Not written yet: replace the ` +
        `<code>todo()</code> calls in <code>${escapeHtml(report.file)}</code> with your code, ` +
        `then run this cell again.</p>`,
      `<details><summary style="${SUMMARY}">the ${report.expected} checks waiting for it</summary>`,
    );
  }
  if (report.tests.length > 0) {
    parts.push(htmlTable({
      kind: "grade-checks",
      head: ["", "check", "requirement", "time"],
      rows: report.tests.map((t) => {
        const c = t.status === "passed" ? GREEN : t.run === "not run" ? GREY : RED;
        return [
          { html: `<span style="color:${c};font-weight:bold">${mark(t)}</span>` },
          t.name,
          { code: t.requirement ?? "" },
          runCell(t),
        ];
      }),
    }));
  }
  const failures = detailedFailures(report);
  failures.forEach((t, i) => {
    parts.push(
      `<details${
        i === 0 && !notStarted ? " open" : ""
      } data-virtio-lab="failure"><summary style="${SUMMARY};color:${RED}">` +
        `✘ ${escapeHtml(t.name)}${
          t.requirement ? ` <code>${escapeHtml(t.requirement)}</code>` : ""
        }</summary><pre style="${PRE}">${
          escapeHtml(retargetHints(t.message, options))
        }</pre></details>`,
    );
  });
  if (notStarted) parts.push("</details>");
  const skipped = notRunLine(report);
  if (skipped) parts.push(`<p style="color:${GREY}">· ${escapeHtml(skipped)}</p>`);
  if (report.stage === "test" && report.message && !skipped) {
    parts.push(`<p style="color:${GREY}">${escapeHtml(report.message)}</p>`);
  }
  if (report.stage === "error" && report.message) {
    parts.push(
      `<details open><summary style="${SUMMARY}">The grader could not run</summary><pre style="${PRE}">${
        escapeHtml(report.message)
      }</pre></details>`,
    );
  }
  if (!ok && options.hintCall && report.stage !== "error") {
    parts.push(
      `<p style="margin:4px 0">Stuck? <code>${
        escapeHtml(options.hintCall())
      }</code> in a cell shows the next hint.</p>`,
    );
  }
  parts.push("</div>");
  return parts.join("\n");
}

/**
 * The report as JSON text (the shape of {@linkcode GradeReport}).
 *
 * @param report The report (or several).
 */
export function renderReportJson(report: GradeReport | readonly GradeReport[]): string {
  return JSON.stringify(report, null, 2);
}

/** A {@linkcode GradeReport} that also displays itself in Jupyter and the REPL. */
export type DisplayableReport = GradeReport & {
  [key: symbol]: () => unknown;
};

/**
 * Returns the report with two non-enumerable methods: a rich display for
 * Jupyter (`Symbol.for("Jupyter.display")`: HTML and plain text) and a
 * readable text form for the REPL and `console.log`
 * (`Symbol.for("Deno.customInspect")`). JSON output is unchanged.
 *
 * @param report The report.
 * @param options How the place it is shown in names the hint call.
 */
export function withDisplay(report: GradeReport, options: DisplayOptions = {}): DisplayableReport {
  const copy = { ...report };
  Object.defineProperty(copy, Symbol.for("Jupyter.display"), {
    value: () => ({
      "text/plain": renderReportPlain(report, options),
      "text/html": renderReportHtml(report, options),
    }),
  });
  Object.defineProperty(copy, Symbol.for("Deno.customInspect"), {
    value: () => renderReportPlain(report, options),
  });
  return copy as DisplayableReport;
}

/**
 * A summary table of several reports (`lab check --all`), no wider than the
 * terminal: lesson titles wrap at word boundaries.
 *
 * @param reports One report per lesson, in course order.
 * @param options Colour and width.
 */
export function renderSummary(
  reports: readonly GradeReport[],
  options: RenderOptions = {},
): string {
  const color = options.color ?? colorEnabled();
  const p = painter(color);
  const width = Math.max(40, options.width ?? terminalWidth());
  // The titles take what the other columns leave, and wrap at word boundaries.
  const titles = Math.max(6, ...reports.map((r) => r.lesson.title.length)) + 2;
  const fixed = 5 + 9 + 9 + 10 + 6;
  const table = new Table({
    head: ["#", "lesson", "result", "checks", "time"],
    colAligns: ["right", "left", "left", "right", "right"],
    colWidths: [5, Math.max(14, Math.min(titles, width - fixed)), 9, 9, 10],
    wordWrap: true,
    style: { head: color ? ["cyan"] : [], border: color ? ["grey"] : [], compact: true },
  });
  for (const r of reports) {
    const result = r.ok
      ? p.green("PASS")
      : r.stage === "test"
      ? p.red("FAIL")
      : p.red(r.stage.toUpperCase());
    table.push([
      String(r.lesson.number),
      r.lesson.title,
      result,
      `${r.passed}/${r.expected}`,
      `${(r.durationMs / 1000).toFixed(2)} s`,
    ]);
  }
  const passed = reports.filter((r) => r.ok).length;
  const line = `${passed} of ${reports.length} lessons pass`;
  const text = `${table.toString()}\n${
    passed === reports.length ? p.green(p.bold(line)) : p.red(p.bold(line))
  }`;
  return color ? text : stripAnsi(text);
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function indent(text: string, prefix: string): string {
  return text.split("\n").map((l) => (l ? prefix + l : l)).join("\n");
}

export { escapeHtml };
