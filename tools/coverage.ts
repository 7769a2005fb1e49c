/**
 * Builds the project's spec coverage table, `docs/COVERAGE.md` (docs/ARCHITECTURE.md §3):
 * for every requirement id of `conformance/requirements.ts` (normative statements
 * and derived rules), which source files check it, which source files on the
 * side it binds obey it, which tests exercise it, which lessons teach it, or
 * why it is not checked (`conformance/coverage_notes.ts`: the other side cannot see
 * it, or it belongs to a feature this lab never offers).
 *
 * Usage:
 *
 * ```sh
 * deno run --allow-read --allow-write tools/coverage.ts          # rewrite docs/COVERAGE.md
 * deno run --allow-read --allow-write tools/coverage.ts --check  # exit 1 if it is stale
 * ```
 *
 * How a file is matched to an id:
 *
 * - "checked in": a code file under `conformance/`, `virtio/`, `memory/`, `virtqueue/`,
 *   `transport/`, `devices/`, or `machine.ts` (but not `conformance/requirements.ts`
 *   or `conformance/coverage_notes.ts`), or one of the grading kit's checkers
 *   ({@linkcode KIT_CHECK_FILES}), that holds a string literal whose whole value
 *   is the id, outside comments: the id a check passes to a report call, such
 *   as `reporter.report("4.2.2.2/2", ...)`.
 * - "obeyed in": a code file of one side (see {@linkcode DEVICE_SIDE_FILES}
 *   and {@linkcode DRIVER_SIDE_FILES}) whose comments or docstrings cite the
 *   id as a whole token (see {@linkcode requirementIdTokens}), for
 *   requirements whose role is that side: `(4.2.2.1/8, 4.2.2.1/9)` in a
 *   comment of `transport/mmio_device.ts` says the device obeys those rules.
 * - "tested by": a code file under `tests/` (but not the tests of the
 *   requirement table and of this tool, {@linkcode TABLE_TESTS}) that
 *   contains the id as a whole token anywhere: test names, comments, strings.
 * - "taught in": a lesson folder `lessons/NN-slug/` with any text file that
 *   contains the id in quotes or backticks.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DERIVED_RULES,
  NORMATIVE_REQUIREMENTS,
  type Requirement,
  type Role,
  SECTION_TITLES,
} from "../conformance/requirements.ts";
import { NOT_OFFERED, UNCHECKABLE } from "../conformance/coverage_notes.ts";

export type { Requirement, RequirementLevel, Role } from "../conformance/requirements.ts";

/** A text file of the repository: path relative to the root with `/` separators, and contents. */
export interface RepoFile {
  /** Such as `"virtqueue/device_queue.ts"`. */
  readonly path: string;
  /** The file's text (UTF-8). */
  readonly text: string;
}

/** What {@linkcode buildCoverageTable} works from. */
export interface CoverageInputs {
  /** Normative requirements and derived rules, in any order. */
  readonly requirements: readonly Requirement[];
  /** Why a requirement cannot be checked from the other side, by id. */
  readonly uncheckable: Readonly<Record<string, string>>;
  /** Why a requirement does not apply to this lab (a feature it never offers), by id. */
  readonly notOffered: Readonly<Record<string, string>>;
  /** Every candidate file of the repository (sources, tests, lessons); others are ignored. */
  readonly files: readonly RepoFile[];
}

/** One row of the coverage table. */
export interface CoverageRow {
  /** Requirement id, e.g. `"4.2.2.2/2"` or `"2.7.5/D1"`. */
  readonly id: string;
  /** Spec section of the id. */
  readonly section: string;
  /** The side the rule binds. */
  readonly role: Requirement["role"];
  /** MUST, SHOULD, MAY or derived. */
  readonly level: Requirement["level"];
  /** The project's one-sentence summary. */
  readonly summary: string;
  /** Source files whose checks cite the id, sorted. */
  readonly checkedIn: readonly string[];
  /** Source files of the side the rule binds whose comments cite the id, sorted. */
  readonly obeyedIn: readonly string[];
  /** Test files that mention the id, sorted. */
  readonly testedBy: readonly string[];
  /** Lesson folders (`lessons/NN-slug`) that mention the id, sorted. */
  readonly taughtIn: readonly string[];
  /** Why the other side cannot check it; empty when it can. */
  readonly whyNotChecked: string;
  /** Which feature, never offered here, the rule belongs to; empty when it applies. */
  readonly notOffered: string;
}

/** Counts shown at the top of the coverage table. */
export interface CoverageCounts {
  /** Rows in the table. */
  readonly total: number;
  /** Rows with at least one checking source file. */
  readonly checked: number;
  /** Rows with at least one obeying source file. */
  readonly obeyed: number;
  /** Rows with at least one test file. */
  readonly tested: number;
  /** Rows with at least one lesson. */
  readonly taught: number;
  /** Rows with a reason why the other side cannot check them. */
  readonly uncheckable: number;
  /** Rows of features this lab never offers. */
  readonly notOffered: number;
  /** Rows with none of the above: not checked, obeyed, tested, taught or explained. */
  readonly none: number;
}

/** Directories (and one file) whose code counts as checks. */
const CHECK_ROOTS: readonly string[] = [
  "conformance/",
  "virtio/",
  "memory/",
  "virtqueue/",
  "transport/",
  "devices/",
];
const CHECK_FILES: readonly string[] = ["machine.ts"];
/**
 * Files of the grading kit (scanned with `lessons/`) that are checks all the
 * same: the concurrent observers, which run the other half of a ring after
 * every store one side makes and report the store-order rules that a side
 * running alone in one thread cannot see broken (2.7.13.3.1/1, 2.7.13.4.1/1,
 * 2.7.8.2/1). The rest of the kit only quotes ids a lesson's checks expect.
 */
export const KIT_CHECK_FILES: readonly string[] = Object.freeze(["lessons/kit/observer.ts"]);
/** Directories whose code may obey rules without checking any (the guest's programs). */
const OBEY_ONLY_ROOTS: readonly string[] = ["guest/"];
/** Files that list ids without checking or obeying anything. */
const NOT_CHECKS: readonly string[] = [
  "conformance/requirements.ts",
  "conformance/requirement_ids.ts",
  "conformance/coverage_notes.ts",
];
const CODE_EXTENSIONS: readonly string[] = [".ts", ".tsx", ".mts", ".js", ".mjs"];

/**
 * Source files that implement the device side: a requirement with role
 * `device` cited in their comments is obeyed there. A pattern is a path, a
 * path with `*` standing for one folder name, or a folder ending in `/`.
 * Files on neither list (shared types, constants, the bus, the memory model,
 * `machine.ts`) obey nothing on their own.
 */
export const DEVICE_SIDE_FILES: readonly string[] = Object.freeze([
  "transport/mmio_device.ts",
  "transport/device_status.ts",
  "transport/mmio_registers.ts",
  "transport/queue_registers.ts",
  "transport/legacy_registers.ts",
  "transport/queue_notify.ts",
  "transport/interrupt_status.ts",
  "transport/config_space.ts",
  "virtqueue/device_queue.ts",
  "virtqueue/device/",
  "virtqueue/packed/device_ring.ts",
  "virtqueue/packed/device_queue.ts",
  "virtqueue/chain.ts",
  "devices/*/device.ts",
  "devices/*/backends.ts",
  "devices/blk/io.ts",
]);

/**
 * Source files that implement the driver side: a requirement with role
 * `driver` cited in their comments is obeyed there. Patterns as for
 * {@linkcode DEVICE_SIDE_FILES}.
 */
export const DRIVER_SIDE_FILES: readonly string[] = Object.freeze([
  "transport/mmio_driver.ts",
  "transport/driver_init.ts",
  "transport/driver_queues.ts",
  "transport/driver_legacy.ts",
  "transport/driver_interrupt.ts",
  "transport/driver_config.ts",
  "transport/driver_core.ts",
  "transport/virtio_bus.ts",
  "virtqueue/driver_queue.ts",
  "virtqueue/driver/",
  "virtqueue/packed/driver_ring.ts",
  "virtqueue/packed/driver_queue.ts",
  "devices/*/driver.ts",
  "devices/blk/transfer.ts",
  "guest/",
]);

/**
 * Source files that hold both halves of one mechanism (a block request is
 * parsed by the device and built by the driver in `devices/blk/request.ts`):
 * a requirement of either role cited there is obeyed there.
 */
export const BOTH_SIDES_FILES: readonly string[] = Object.freeze([
  "devices/*/request.ts",
  "devices/*/config.ts",
  "devices/*/discard.ts",
  "devices/*/receive.ts",
  "devices/*/transmit.ts",
]);

/**
 * Test files left out of "tested by": they test the requirement table, the
 * coverage notes and this tool, so they list ids without exercising any rule.
 */
export const TABLE_TESTS: readonly string[] = Object.freeze([
  "tests/conformance/requirements_test.ts",
  "tests/conformance/coverage_notes_test.ts",
  "tests/tools/coverage_test.ts",
]);

/** Where the table lives, relative to the repository root. */
export const COVERAGE_PATH = "docs/COVERAGE.md";
/** The command that regenerates the table. */
export const REGENERATE_COMMAND = "deno run --allow-read --allow-write tools/coverage.ts";

function isCode(path: string): boolean {
  return CODE_EXTENSIONS.some((ext) => path.endsWith(ext));
}

function isCheckSource(path: string): boolean {
  if (!isCode(path) || NOT_CHECKS.includes(path)) return false;
  return CHECK_FILES.includes(path) || KIT_CHECK_FILES.includes(path) ||
    CHECK_ROOTS.some((root) => path.startsWith(root));
}

function isObeySource(path: string): boolean {
  return isCheckSource(path) ||
    (isCode(path) && OBEY_ONLY_ROOTS.some((root) => path.startsWith(root)));
}

function isTest(path: string): boolean {
  return path.startsWith("tests/") && isCode(path) && !TABLE_TESTS.includes(path);
}

function matchesPattern(path: string, pattern: string): boolean {
  if (pattern.endsWith("/")) return path.startsWith(pattern);
  const want = pattern.split("/");
  const have = path.split("/");
  return want.length === have.length && want.every((w, i) => w === "*" || w === have[i]);
}

/**
 * The side a source file implements, from {@linkcode DEVICE_SIDE_FILES} and
 * {@linkcode DRIVER_SIDE_FILES}.
 *
 * @param path Root-relative path with `/` separators, such as `"devices/blk/driver.ts"`.
 * @returns `"device"`, `"driver"`, `"both"` for a file holding one mechanism's
 *   two halves, or `null` for shared code and anything else.
 */
export function sideOf(path: string): Role | "both" | null {
  if (BOTH_SIDES_FILES.some((p) => matchesPattern(path, p))) return "both";
  if (DEVICE_SIDE_FILES.some((p) => matchesPattern(path, p))) return "device";
  if (DRIVER_SIDE_FILES.some((p) => matchesPattern(path, p))) return "driver";
  return null;
}

/**
 * `lessons/NN-slug` for a file inside a lesson folder, else `null` (the
 * graders' shared kit, `lessons/kit/`, is course code, not a lesson).
 */
function lessonFolder(path: string): string | null {
  const parts = path.split("/");
  return parts.length >= 3 && parts[0] === "lessons" && /^\d+-/.test(parts[1])
    ? `lessons/${parts[1]}`
    : null;
}

/**
 * Sort key of a requirement id: section numbers, then normative ordinals
 * before derived ones.
 */
function compareIds(a: string, b: string): number {
  const [sa, oa] = a.split("/");
  const [sb, ob] = b.split("/");
  const pa = sa.split(".").map(Number);
  const pb = sb.split(".").map(Number);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i] - pb[i];
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  const da = oa.startsWith("D") ? 1 : 0;
  const db = ob.startsWith("D") ? 1 : 0;
  if (da !== db) return da - db;
  return Number(oa.replace("D", "")) - Number(ob.replace("D", ""));
}

const REGEX_AFTER_WORDS = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/** What {@linkcode lexSource} finds in a source file. */
export interface SourceParts {
  /** Raw contents of each plain string literal, escapes left as written. */
  readonly literals: readonly string[];
  /** Each comment with its delimiters: line comments without their newline, block and JSDoc comments whole. */
  readonly comments: readonly string[];
}

/**
 * Splits JavaScript/TypeScript source into its plain string literals (quoted
 * strings and template literals without substitutions) and its comments.
 * A small lexer, enough for this project's sources (it skips regular
 * expression literals by the usual "what came before" rule). It never throws:
 * an unterminated string, comment or template ends at the end of the text.
 *
 * @param source The source text.
 * @returns Literals and comments, each in source order.
 */
export function lexSource(source: string): SourceParts {
  const out: string[] = [];
  const comments: string[] = [];
  const n = source.length;
  // One entry per open `${`: the `{` depth inside that substitution.
  const templateDepths: number[] = [];
  let lastToken = ""; // last punctuation character or word outside strings and comments
  let i = 0;

  const readTemplate = (start: number): number => {
    // `start` is just after a backtick or after the `}` closing a substitution.
    let j = start;
    let chunk = "";
    let plain = source[start - 1] === "`";
    while (j < n) {
      const c = source[j];
      if (c === "\\") {
        chunk += source.slice(j, j + 2);
        j += 2;
      } else if (c === "`") {
        if (plain) out.push(chunk);
        lastToken = "`";
        return j + 1;
      } else if (c === "$" && source[j + 1] === "{") {
        plain = false;
        templateDepths.push(0);
        lastToken = "{";
        return j + 2;
      } else {
        chunk += c;
        j++;
      }
    }
    return n;
  };

  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      comments.push(source.slice(i, stop));
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      comments.push(source.slice(i, stop));
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let value = "";
      while (j < n && source[j] !== c && source[j] !== "\n") {
        if (source[j] === "\\") {
          value += source.slice(j, j + 2);
          j += 2;
        } else {
          value += source[j];
          j++;
        }
      }
      out.push(value);
      lastToken = c;
      i = j + 1;
    } else if (c === "`") {
      i = readTemplate(i + 1);
    } else if (c === "/") {
      const regexAllowed = lastToken === "" || "(,=:[!&|?{};+-*%<>~^".includes(lastToken) ||
        REGEX_AFTER_WORDS.has(lastToken);
      if (!regexAllowed) {
        lastToken = "/";
        i++;
        continue;
      }
      let j = i + 1;
      let inClass = false;
      while (j < n && source[j] !== "\n") {
        const r = source[j];
        if (r === "\\") j += 2;
        else {
          if (r === "[") inClass = true;
          else if (r === "]") inClass = false;
          else if (r === "/" && !inClass) break;
          j++;
        }
      }
      j++;
      while (j < n && /[a-z]/i.test(source[j])) j++; // flags
      lastToken = "regex";
      i = j;
    } else if (c === "{") {
      if (templateDepths.length > 0) templateDepths[templateDepths.length - 1]++;
      lastToken = "{";
      i++;
    } else if (c === "}") {
      if (templateDepths.length > 0 && templateDepths[templateDepths.length - 1] === 0) {
        templateDepths.pop();
        i = readTemplate(i + 1);
      } else {
        if (templateDepths.length > 0) templateDepths[templateDepths.length - 1]--;
        lastToken = "}";
        i++;
      }
    } else if (/\s/.test(c)) {
      i++;
    } else if (/[A-Za-z0-9_$]/.test(c)) {
      let j = i;
      while (j < n && /[A-Za-z0-9_$]/.test(source[j])) j++;
      lastToken = source.slice(i, j);
      i = j;
    } else {
      lastToken = c;
      i++;
    }
  }
  return { literals: out, comments };
}

/**
 * The plain string literals of JavaScript/TypeScript source, outside
 * comments: quoted strings and template literals without substitutions
 * (see {@linkcode lexSource}).
 *
 * @param source The source text.
 * @returns The raw contents of each literal, escapes left as written.
 */
export function stringLiterals(source: string): string[] {
  return [...lexSource(source).literals];
}

/**
 * A requirement id written as a whole token: a section number, `/`, and an
 * ordinal (`D` first for derived rules). It must not continue a word, a
 * number or a longer section number (so `12.4.2.1/5` and `x4.2.2.1/5` do not
 * hold `4.2.2.1/5`), nor go on into more digits or letters (so `4.2.2.1/50`
 * does not hold `4.2.2.1/5`), nor into `.` or `/` and a digit. A `§` before
 * it, brackets, commas and a full stop after it are fine.
 */
const ID_TOKEN = /(?<![A-Za-z0-9_./])\d+(?:\.\d+)*\/D?\d+(?![A-Za-z0-9_]|[./]\d)/g;

/**
 * Every requirement id written as a whole token in a text, such as
 * `4.2.2.1/5` in `"reset clears InterruptStatus (§4.2.2.1/5, 2.4.1/1)"`.
 * Candidates that no requirement has (`8/16`, say) are returned too; callers
 * look up the ids they know.
 *
 * @param text Any text: source, comments, test names, Markdown.
 * @returns The distinct tokens found.
 */
export function requirementIdTokens(text: string): Set<string> {
  return new Set(text.match(ID_TOKEN) ?? []);
}

/**
 * Whether a text cites a requirement id as a whole token (see
 * {@linkcode requirementIdTokens}).
 *
 * @param text Any text.
 * @param id Such as `"4.2.2.1/5"` or `"2.7.5/D1"`.
 */
export function mentionsId(text: string, id: string): boolean {
  return requirementIdTokens(text).has(id);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** Whether `text` holds `id` between matching quotes or backticks. */
function mentionsQuoted(text: string, id: string): boolean {
  return new RegExp(`(["'\`])${escapeRegExp(id)}\\1`).test(text);
}

function checkNoteIds(
  ids: ReadonlySet<string>,
  notes: Readonly<Record<string, string>>,
  what: string,
): void {
  for (const id of Object.keys(notes)) {
    if (!ids.has(id)) throw new RangeError(`${what} for unknown requirement id "${id}"`);
  }
}

/**
 * Builds the coverage rows: a pure function of the requirement table, the
 * notes of `conformance/coverage_notes.ts` and the repository's files.
 *
 * @param inputs Requirements, notes and files (see {@linkcode CoverageInputs}).
 * @returns One row per requirement, in section order (normative before derived
 *   within a section).
 * @throws {RangeError} If a note names an id that is not a requirement, an id
 *   is both uncheckable and not offered, or two requirements share an id.
 */
export function buildCoverageTable(inputs: CoverageInputs): CoverageRow[] {
  const ids = new Set<string>();
  for (const r of inputs.requirements) {
    if (ids.has(r.id)) throw new RangeError(`Requirement id "${r.id}" appears twice`);
    ids.add(r.id);
  }
  checkNoteIds(ids, inputs.uncheckable, "Coverage note");
  checkNoteIds(ids, inputs.notOffered, "Not-offered note");
  for (const id of Object.keys(inputs.notOffered)) {
    if (Object.hasOwn(inputs.uncheckable, id)) {
      throw new RangeError(`Requirement id "${id}" is both uncheckable and not offered`);
    }
  }

  const sources = inputs.files
    .filter((f) => isObeySource(f.path))
    .map((f) => {
      const { literals, comments } = lexSource(f.text);
      return {
        path: f.path,
        checks: isCheckSource(f.path) ? new Set(literals) : new Set<string>(),
        side: sideOf(f.path),
        cites: requirementIdTokens(comments.join("\n")),
      };
    });
  const tests = inputs.files
    .filter((f) => isTest(f.path))
    .map((f) => ({ path: f.path, ids: requirementIdTokens(f.text) }));
  const lessons = inputs.files.flatMap((f) => {
    const folder = lessonFolder(f.path);
    return folder ? [{ folder, text: f.text }] : [];
  });

  const sorted = [...inputs.requirements].sort((a, b) => compareIds(a.id, b.id));
  return sorted.map((r) => ({
    id: r.id,
    section: r.section,
    role: r.role,
    level: r.level,
    summary: r.summary,
    checkedIn: sources.filter((f) => f.checks.has(r.id)).map((f) => f.path).sort(),
    obeyedIn: sources
      .filter((f) => (f.side === r.role || f.side === "both") && f.cites.has(r.id))
      .map((f) => f.path)
      .sort(),
    testedBy: tests.filter((f) => f.ids.has(r.id)).map((f) => f.path).sort(),
    taughtIn: [
      ...new Set(lessons.filter((l) => mentionsQuoted(l.text, r.id)).map((l) => l.folder)),
    ].sort(),
    whyNotChecked: Object.hasOwn(inputs.uncheckable, r.id) ? inputs.uncheckable[r.id] : "",
    notOffered: Object.hasOwn(inputs.notOffered, r.id) ? inputs.notOffered[r.id] : "",
  }));
}

/**
 * Whether no column of a row accounts for its requirement: nothing checks,
 * obeys, tests or teaches it, and no note explains it.
 *
 * @param row A row from {@linkcode buildCoverageTable}.
 */
export function isUncovered(row: CoverageRow): boolean {
  return row.checkedIn.length === 0 && row.obeyedIn.length === 0 &&
    row.testedBy.length === 0 && row.taughtIn.length === 0 &&
    row.whyNotChecked === "" && row.notOffered === "";
}

/**
 * Counts the rows that are checked, obeyed, tested, taught, uncheckable, not
 * offered, or none of these.
 *
 * @param rows Rows from {@linkcode buildCoverageTable}.
 */
export function countCoverage(rows: readonly CoverageRow[]): CoverageCounts {
  return {
    total: rows.length,
    checked: rows.filter((r) => r.checkedIn.length > 0).length,
    obeyed: rows.filter((r) => r.obeyedIn.length > 0).length,
    tested: rows.filter((r) => r.testedBy.length > 0).length,
    taught: rows.filter((r) => r.taughtIn.length > 0).length,
    uncheckable: rows.filter((r) => r.whyNotChecked !== "").length,
    notOffered: rows.filter((r) => r.notOffered !== "").length,
    none: rows.filter(isUncovered).length,
  };
}

function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function files(paths: readonly string[]): string {
  return paths.map((p) => `\`${p}\``).join(", ");
}

function reason(row: CoverageRow): string {
  const parts = [row.whyNotChecked, row.notOffered ? `Not offered: ${row.notOffered}` : ""];
  return cell(parts.filter((p) => p !== "").join(" "));
}

/** The group a section is listed under: its first two numbers (`2.7.5.3.1` → `2.7`). */
function groupOf(section: string): string {
  return section.split(".").slice(0, 2).join(".");
}

function patterns(list: readonly string[]): string {
  return list.map((p) => `\`${p}\``).join(", ");
}

/**
 * Renders the rows as `docs/COVERAGE.md`: a header, the counts, then one
 * table per spec section group. Deterministic: same rows, same text.
 *
 * @param rows Rows from {@linkcode buildCoverageTable}.
 * @param sectionTitles Titles by section number, for the group headings.
 * @returns Markdown with `\n` line endings and a final newline.
 */
export function renderCoverageMarkdown(
  rows: readonly CoverageRow[],
  sectionTitles: Readonly<Record<string, string>> = SECTION_TITLES,
): string {
  const all = countCoverage(rows);
  const normative = countCoverage(rows.filter((r) => r.level !== "derived"));
  const derived = countCoverage(rows.filter((r) => r.level === "derived"));
  const count = (label: string, key: keyof CoverageCounts) =>
    `| ${label} | ${normative[key]} | ${derived[key]} | ${all[key]} |`;
  const checkedButUncheckable = rows.filter((r) =>
    r.checkedIn.length > 0 && r.whyNotChecked !== ""
  );
  const checkedButNotOffered = rows.filter((r) => r.checkedIn.length > 0 && r.notOffered !== "");

  const lines: string[] = [
    "<!-- deno-fmt-ignore-file -->",
    "<!-- Generated by tools/coverage.ts; do not edit by hand. -->",
    "",
    "# Spec coverage",
    "",
    `Generated by \`${REGENERATE_COMMAND}\` from \`conformance/requirements.ts\`,`,
    "`conformance/coverage_notes.ts` and the repository's files; CI runs it with `--check`.",
    "",
    "For each requirement of virtio v1.2 (ids of the reference REQUIREMENTS.tsv) and each",
    "derived rule (`D` ids, see `conformance/requirements.ts`):",
    "",
    "- **checked in**: source files under `conformance/`, `virtio/`, `memory/`, `virtqueue/`, `transport/`,",
    "  `devices/` and `machine.ts` that pass the id, as a string literal, to a check's report:",
    "  the reference code catches the other side breaking the rule;",
    "- **obeyed in**: source files of the side the rule binds whose comments or docstrings cite",
    "  the id: the reference code keeps the rule itself. Device side (rules with role `device`):",
    `  ${patterns(DEVICE_SIDE_FILES)}.`,
    `  Driver side (role \`driver\`): ${patterns(DRIVER_SIDE_FILES)}.`,
    `  Both sides (one mechanism's two halves): ${patterns(BOTH_SIDES_FILES)}.`,
    "  Other files (shared types and constants, the bus, the memory model, `machine.ts`) obey",
    "  nothing on their own; a pattern's `*` is one folder name, a trailing `/` a whole folder;",
    "- **tested by**: test files under `tests/` that contain the id anywhere (test names,",
    `  comments, strings), except the tests of the tables and of this tool (${
      patterns(TABLE_TESTS)
    });`,
    "- **taught in**: lesson folders under `lessons/` whose files contain the quoted id;",
    '- **why not checked**: why the other side cannot check it, or ("Not offered") the feature',
    "  or interface it belongs to, which this lab neither offers nor negotiates",
    "  (`UNCHECKABLE` and `NOT_OFFERED` in `conformance/coverage_notes.ts`).",
    "",
    "An id is cited when it appears as a whole token: `4.2.2.1/5`, `§4.2.2.1/5` and",
    "`(4.2.2.1/5, 2.4.1/1)` cite 4.2.2.1/5; `4.2.2.1/50` and `14.2.2.1/5` do not.",
    "",
    "In the summary, **none of these** counts the requirements whose every column is empty:",
    "nothing checks, obeys, tests or teaches them and no note explains them. They are the",
    "work still to do: a check, a citation where the code already obeys the rule, a test,",
    "or a note.",
    "",
    "## Summary",
    "",
    "| | normative | derived | all |",
    "|---|---:|---:|---:|",
    count("requirements", "total"),
    count("checked in source", "checked"),
    count("obeyed in source", "obeyed"),
    count("tested", "tested"),
    count("taught in a lesson", "taught"),
    count("uncheckable from the other side", "uncheckable"),
    count("not offered by this lab", "notOffered"),
    count("none of these", "none"),
    "",
  ];
  if (checkedButUncheckable.length > 0) {
    lines.push(
      `Checked although marked uncheckable (fix \`conformance/coverage_notes.ts\`): ${
        checkedButUncheckable.map((r) => r.id).join(", ")
      }.`,
      "",
    );
  }
  if (checkedButNotOffered.length > 0) {
    lines.push(
      `Checked although marked not offered (fix \`conformance/coverage_notes.ts\`): ${
        checkedButNotOffered.map((r) => r.id).join(", ")
      }.`,
      "",
    );
  }
  lines.push("## Requirements", "");

  let group = "";
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const g = groupOf(r.section);
    if (g !== group) {
      group = g;
      const title = sectionTitles[g];
      lines.push(
        `### ${g}${title ? ` ${title}` : ""}`,
        "",
        "| id | role | level | summary | checked in | obeyed in | tested by | taught in | why not checked |",
        "|---|---|---|---|---|---|---|---|---|",
      );
    }
    lines.push(
      `| ${r.id} | ${r.role} | ${r.level} | ${cell(r.summary)} | ${files(r.checkedIn)} | ` +
        `${files(r.obeyedIn)} | ${files(r.testedBy)} | ${files(r.taughtIn)} | ${reason(r)} |`,
    );
    if (i + 1 === rows.length || groupOf(rows[i + 1].section) !== g) lines.push("");
  }
  return lines.join("\n").replace(/\n+$/, "") + "\n";
}

const SKIP_DIRS = new Set(["node_modules", "workspace"]);

async function walk(root: string, dir: string, out: RepoFile[]): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(join(root, dir)));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith(".") || SKIP_DIRS.has(entry.name)) continue;
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      await walk(root, path, out);
    } else if (entry.isFile) {
      const text = await readText(join(root, path));
      if (text !== null) out.push({ path, text });
    }
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });

async function readText(path: string): Promise<string | null> {
  const bytes = await Deno.readFile(path);
  if (bytes.includes(0)) return null; // binary (a disk image, say)
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Reads the files the coverage table looks at: everything under `conformance/`, `virtio/`,
 * `memory/`, `virtqueue/`, `transport/`, `devices/`, `guest/`, `tests/` and
 * `lessons/`, plus `machine.ts` (binary files, dot-files and `node_modules`
 * are skipped).
 *
 * @param root The repository root (a directory path).
 * @returns Text files with root-relative `/`-separated paths, sorted by path.
 * @throws {Deno.errors.PermissionDenied} Without read permission for `root`.
 */
export async function collectRepoFiles(root: string): Promise<RepoFile[]> {
  const out: RepoFile[] = [];
  const roots = [...CHECK_ROOTS, ...OBEY_ONLY_ROOTS].map((d) => d.slice(0, -1));
  for (const dir of [...roots, "tests", "lessons"]) {
    await walk(root, dir, out);
  }
  for (const file of CHECK_FILES) {
    try {
      const text = await readText(join(root, file));
      if (text !== null) out.push({ path: file, text });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The text `docs/COVERAGE.md` should have for the repository at `root`.
 *
 * @param root The repository root.
 * @param requirements The requirement table (default: the project's own).
 * @param uncheckable Why ids cannot be checked (default: the project's `UNCHECKABLE`).
 * @param notOffered Ids of features never offered (default: the project's `NOT_OFFERED`).
 * @throws {RangeError} As {@linkcode buildCoverageTable} does, for bad notes.
 */
export async function generateCoverage(
  root: string,
  requirements: readonly Requirement[] = [...NORMATIVE_REQUIREMENTS, ...DERIVED_RULES],
  uncheckable: Readonly<Record<string, string>> = UNCHECKABLE,
  notOffered: Readonly<Record<string, string>> = NOT_OFFERED,
): Promise<string> {
  const files = await collectRepoFiles(root);
  return renderCoverageMarkdown(
    buildCoverageTable({ requirements, uncheckable, notOffered, files }),
  );
}

/** The repository root: the parent of this file's folder. */
export const REPO_ROOT: string = dirname(dirname(fileURLToPath(import.meta.url)));

/** Options for {@linkcode runCoverageCli}; tests point it at a fixture tree. */
export interface CoverageCliOptions {
  /** Repository root (default {@linkcode REPO_ROOT}). */
  readonly root?: string;
  /** Requirement table (default: the project's own). */
  readonly requirements?: readonly Requirement[];
  /** Why ids cannot be checked (default: the project's `UNCHECKABLE`). */
  readonly uncheckable?: Readonly<Record<string, string>>;
  /** Ids of features never offered (default: the project's `NOT_OFFERED`). */
  readonly notOffered?: Readonly<Record<string, string>>;
  /** Receives normal output lines (default `console.log`). */
  readonly out?: (line: string) => void;
  /** Receives error lines (default `console.error`). */
  readonly err?: (line: string) => void;
}

/**
 * The command: writes `docs/COVERAGE.md`, or with `--check` compares it with
 * what would be written.
 *
 * @param args Command-line arguments: nothing, or `--check`.
 * @param options Root, tables and output sinks.
 * @returns The exit status: 0 done or up to date, 1 stale or missing
 *   (`--check`), 2 bad arguments.
 * @throws {Deno.errors.PermissionDenied} Without read (and, to write, write) permission.
 */
export async function runCoverageCli(
  args: readonly string[],
  options: CoverageCliOptions = {},
): Promise<number> {
  const out = options.out ?? ((line: string) => console.log(line));
  const err = options.err ?? ((line: string) => console.error(line));
  const unknown = args.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    err(`coverage: unknown argument ${unknown[0]}; usage: tools/coverage.ts [--check]`);
    return 2;
  }
  const root = options.root ?? REPO_ROOT;
  const target = join(root, COVERAGE_PATH);
  const rows = buildCoverageTable({
    requirements: options.requirements ?? [...NORMATIVE_REQUIREMENTS, ...DERIVED_RULES],
    uncheckable: options.uncheckable ?? UNCHECKABLE,
    notOffered: options.notOffered ?? NOT_OFFERED,
    files: await collectRepoFiles(root),
  });
  const expected = renderCoverageMarkdown(rows);
  if (args.includes("--check")) {
    let actual: string | null = null;
    try {
      actual = await Deno.readTextFile(target);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (actual !== expected) {
      err(
        `${COVERAGE_PATH} is ${
          actual === null ? "missing" : "out of date"
        }; regenerate it with: ${REGENERATE_COMMAND}`,
      );
      return 1;
    }
    out(`${COVERAGE_PATH} is up to date.`);
    return 0;
  }
  await Deno.mkdir(dirname(target), { recursive: true });
  await Deno.writeTextFile(target, expected);
  const c = countCoverage(rows);
  out(
    `Wrote ${COVERAGE_PATH}: ${c.total} requirements, ${c.checked} checked, ` +
      `${c.obeyed} obeyed, ${c.tested} tested, ${c.taught} taught, ` +
      `${c.uncheckable} uncheckable, ${c.notOffered} not offered, ${c.none} none of these.`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await runCoverageCli(Deno.args));
  } catch (e) {
    console.error(`coverage: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
