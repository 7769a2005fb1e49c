/**
 * Builds the project's spec coverage table, `docs/COVERAGE.md` (DESIGN.md §2):
 * for every requirement id of `spec/requirements.ts` (normative statements
 * and derived rules), which source files check it, which tests trigger it,
 * which lessons teach it, or why the other side cannot check it
 * (`spec/coverage_notes.ts`).
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
 * - "checked in": a code file under `spec/`, `memory/`, `virtqueue/`,
 *   `transport/`, `devices/`, or `machine.ts` (but not `spec/requirements.ts`
 *   or `spec/coverage_notes.ts`) that holds a string literal whose whole value
 *   is the id, outside comments: the id a check passes to a report call, such
 *   as `reporter.report("4.2.2.2/2", ...)`.
 * - "triggered by": a code file under `tests/` that contains the id in quotes
 *   (`"…"`, `'…'` or backticks).
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
  SECTION_TITLES,
} from "../spec/requirements.ts";
import { UNCHECKABLE } from "../spec/coverage_notes.ts";

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
  /** Test files that mention the id, sorted. */
  readonly triggeredBy: readonly string[];
  /** Lesson folders (`lessons/NN-slug`) that mention the id, sorted. */
  readonly taughtIn: readonly string[];
  /** Why the other side cannot check it; empty when it can. */
  readonly whyNotChecked: string;
}

/** Counts shown at the top of the coverage table. */
export interface CoverageCounts {
  /** Rows in the table. */
  readonly total: number;
  /** Rows with at least one checking source file. */
  readonly checked: number;
  /** Rows with at least one test file. */
  readonly triggered: number;
  /** Rows with at least one lesson. */
  readonly taught: number;
  /** Rows with a reason why the other side cannot check them. */
  readonly uncheckable: number;
  /** Rows neither checked nor explained: the work still to do. */
  readonly neither: number;
}

/** Directories (and one file) whose code counts as checks. */
const CHECK_ROOTS: readonly string[] = ["spec/", "memory/", "virtqueue/", "transport/", "devices/"];
const CHECK_FILES: readonly string[] = ["machine.ts"];
/** Files that list ids without checking anything. */
const NOT_CHECKS: readonly string[] = ["spec/requirements.ts", "spec/coverage_notes.ts"];
const CODE_EXTENSIONS: readonly string[] = [".ts", ".tsx", ".mts", ".js", ".mjs"];

/** Where the table lives, relative to the repository root. */
export const COVERAGE_PATH = "docs/COVERAGE.md";
/** The command that regenerates the table. */
export const REGENERATE_COMMAND = "deno run --allow-read --allow-write tools/coverage.ts";

function isCode(path: string): boolean {
  return CODE_EXTENSIONS.some((ext) => path.endsWith(ext));
}

function isCheckSource(path: string): boolean {
  if (!isCode(path) || NOT_CHECKS.includes(path)) return false;
  return CHECK_FILES.includes(path) || CHECK_ROOTS.some((root) => path.startsWith(root));
}

function isTest(path: string): boolean {
  return path.startsWith("tests/") && isCode(path);
}

/** `lessons/NN-slug` for a file inside a lesson folder, else `null`. */
function lessonFolder(path: string): string | null {
  const parts = path.split("/");
  return parts.length >= 3 && parts[0] === "lessons" ? `lessons/${parts[1]}` : null;
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

/**
 * The plain string literals of JavaScript/TypeScript source, outside
 * comments: quoted strings and template literals without substitutions.
 * A small lexer, enough for this project's sources (it skips regular
 * expression literals by the usual "what came before" rule).
 *
 * @param source The source text.
 * @returns The raw contents of each literal, escapes left as written.
 */
export function stringLiterals(source: string): string[] {
  const out: string[] = [];
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
      i = end === -1 ? n : end;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end === -1 ? n : end + 2;
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
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** Whether `text` holds `id` between matching quotes or backticks. */
function mentionsQuoted(text: string, id: string): boolean {
  return new RegExp(`(["'\`])${escapeRegExp(id)}\\1`).test(text);
}

/**
 * Builds the coverage rows: a pure function of the requirement table, the
 * reasons of `spec/coverage_notes.ts` and the repository's files.
 *
 * @param inputs Requirements, reasons and files (see {@linkcode CoverageInputs}).
 * @returns One row per requirement, in section order (normative before derived
 *   within a section).
 * @throws {RangeError} If a reason names an id that is not a requirement, or
 *   two requirements share an id.
 */
export function buildCoverageTable(inputs: CoverageInputs): CoverageRow[] {
  const ids = new Set<string>();
  for (const r of inputs.requirements) {
    if (ids.has(r.id)) throw new RangeError(`Requirement id "${r.id}" appears twice`);
    ids.add(r.id);
  }
  for (const id of Object.keys(inputs.uncheckable)) {
    if (!ids.has(id)) {
      throw new RangeError(`Coverage note for unknown requirement id "${id}"`);
    }
  }

  const checkLiterals = inputs.files
    .filter((f) => isCheckSource(f.path))
    .map((f) => ({ path: f.path, literals: new Set(stringLiterals(f.text)) }));
  const tests = inputs.files.filter((f) => isTest(f.path));
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
    checkedIn: checkLiterals.filter((f) => f.literals.has(r.id)).map((f) => f.path).sort(),
    triggeredBy: tests.filter((f) => mentionsQuoted(f.text, r.id)).map((f) => f.path).sort(),
    taughtIn: [
      ...new Set(lessons.filter((l) => mentionsQuoted(l.text, r.id)).map((l) => l.folder)),
    ].sort(),
    whyNotChecked: Object.hasOwn(inputs.uncheckable, r.id) ? inputs.uncheckable[r.id] : "",
  }));
}

/**
 * Counts the rows that are checked, triggered, taught, uncheckable, or
 * neither checked nor explained.
 *
 * @param rows Rows from {@linkcode buildCoverageTable}.
 */
export function countCoverage(rows: readonly CoverageRow[]): CoverageCounts {
  return {
    total: rows.length,
    checked: rows.filter((r) => r.checkedIn.length > 0).length,
    triggered: rows.filter((r) => r.triggeredBy.length > 0).length,
    taught: rows.filter((r) => r.taughtIn.length > 0).length,
    uncheckable: rows.filter((r) => r.whyNotChecked !== "").length,
    neither: rows.filter((r) => r.checkedIn.length === 0 && r.whyNotChecked === "").length,
  };
}

function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function files(paths: readonly string[]): string {
  return paths.map((p) => `\`${p}\``).join(", ");
}

/** The group a section is listed under: its first two numbers (`2.7.5.3.1` → `2.7`). */
function groupOf(section: string): string {
  return section.split(".").slice(0, 2).join(".");
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
  const conflicts = rows.filter((r) => r.checkedIn.length > 0 && r.whyNotChecked !== "");

  const lines: string[] = [
    "<!-- deno-fmt-ignore-file -->",
    "<!-- Generated by tools/coverage.ts; do not edit by hand. -->",
    "",
    "# Spec coverage",
    "",
    `Generated by \`${REGENERATE_COMMAND}\` from \`spec/requirements.ts\`,`,
    "`spec/coverage_notes.ts` and the repository's files; CI runs it with `--check`.",
    "",
    "For each requirement of virtio v1.2 (ids of the reference REQUIREMENTS.tsv) and each",
    "derived rule (`D` ids, see `spec/requirements.ts`):",
    "",
    "- **checked in**: source files under `spec/`, `memory/`, `virtqueue/`, `transport/`,",
    "  `devices/` and `machine.ts` that pass the id, as a string literal, to a check's report;",
    "- **triggered by**: test files under `tests/` that contain the quoted id;",
    "- **taught in**: lesson folders under `lessons/` whose files contain the quoted id;",
    "- **why not checked**: why the other side cannot check it (`spec/coverage_notes.ts`).",
    "",
    "## Summary",
    "",
    "| | normative | derived | all |",
    "|---|---:|---:|---:|",
    `| requirements | ${normative.total} | ${derived.total} | ${all.total} |`,
    `| checked | ${normative.checked} | ${derived.checked} | ${all.checked} |`,
    `| triggered by a test | ${normative.triggered} | ${derived.triggered} | ${all.triggered} |`,
    `| taught in a lesson | ${normative.taught} | ${derived.taught} | ${all.taught} |`,
    `| uncheckable from the other side | ${normative.uncheckable} | ${derived.uncheckable} | ${all.uncheckable} |`,
    `| neither checked nor explained | ${normative.neither} | ${derived.neither} | ${all.neither} |`,
    "",
  ];
  if (conflicts.length > 0) {
    lines.push(
      `Checked although marked uncheckable (fix \`spec/coverage_notes.ts\`): ${
        conflicts.map((r) => r.id).join(", ")
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
        "| id | role | level | summary | checked in | triggered by | taught in | why not checked |",
        "|---|---|---|---|---|---|---|---|",
      );
    }
    lines.push(
      `| ${r.id} | ${r.role} | ${r.level} | ${cell(r.summary)} | ${files(r.checkedIn)} | ` +
        `${files(r.triggeredBy)} | ${files(r.taughtIn)} | ${cell(r.whyNotChecked)} |`,
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
 * Reads the files the coverage table looks at: everything under `spec/`,
 * `memory/`, `virtqueue/`, `transport/`, `devices/`, `tests/` and `lessons/`,
 * plus `machine.ts` (binary files, dot-files and `node_modules` are skipped).
 *
 * @param root The repository root (a directory path).
 * @returns Text files with root-relative `/`-separated paths, sorted by path.
 * @throws {Deno.errors.PermissionDenied} Without read permission for `root`.
 */
export async function collectRepoFiles(root: string): Promise<RepoFile[]> {
  const out: RepoFile[] = [];
  for (const dir of [...CHECK_ROOTS.map((d) => d.slice(0, -1)), "tests", "lessons"]) {
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
 * @param uncheckable The coverage notes (default: the project's own).
 */
export async function generateCoverage(
  root: string,
  requirements: readonly Requirement[] = [...NORMATIVE_REQUIREMENTS, ...DERIVED_RULES],
  uncheckable: Readonly<Record<string, string>> = UNCHECKABLE,
): Promise<string> {
  const files = await collectRepoFiles(root);
  return renderCoverageMarkdown(buildCoverageTable({ requirements, uncheckable, files }));
}

/** The repository root: the parent of this file's folder. */
export const REPO_ROOT: string = dirname(dirname(fileURLToPath(import.meta.url)));

/** Options for {@linkcode runCoverageCli}; tests point it at a fixture tree. */
export interface CoverageCliOptions {
  /** Repository root (default {@linkcode REPO_ROOT}). */
  readonly root?: string;
  /** Requirement table (default: the project's own). */
  readonly requirements?: readonly Requirement[];
  /** Coverage notes (default: the project's own). */
  readonly uncheckable?: Readonly<Record<string, string>>;
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
      `${c.triggered} triggered, ${c.taught} taught, ${c.uncheckable} uncheckable, ` +
      `${c.neither} neither checked nor explained.`,
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
