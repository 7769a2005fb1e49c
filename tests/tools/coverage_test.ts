// Tests for tools/coverage.ts, the generator of docs/COVERAGE.md: matching
// rules on a fixture tree, rendering, the command's exit codes, and that the
// repository's own docs/COVERAGE.md is current.
//
// The fixture uses a made-up chapter 9 so that this file quotes no real
// requirement id (the generator would list it as triggering that id).

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  buildCoverageTable,
  collectRepoFiles,
  countCoverage,
  COVERAGE_PATH,
  type CoverageRow,
  generateCoverage,
  REGENERATE_COMMAND,
  renderCoverageMarkdown,
  REPO_ROOT,
  runCoverageCli,
  stringLiterals,
} from "../../tools/coverage.ts";
import { UNCHECKABLE } from "../../spec/coverage_notes.ts";
import {
  DERIVED_RULES,
  NORMATIVE_REQUIREMENTS,
  type Requirement,
} from "../../spec/requirements.ts";

function req(
  id: string,
  role: Requirement["role"],
  level: Requirement["level"],
  summary: string,
): Requirement {
  const section = id.slice(0, id.indexOf("/"));
  return { id, section, sectionTitle: `Title ${section}`, role, level, summary };
}

// Deliberately out of order: the table sorts by section, normative before derived.
const FIXTURE_REQUIREMENTS: readonly Requirement[] = [
  req("9.10/1", "device", "MUST", "Ten comes after two."),
  req("9.1/2", "device", "MAY", "A permission | with a pipe."),
  req("9.1/D1", "driver", "derived", "A derived rule."),
  req("9.1/1", "driver", "MUST", "The first rule."),
  req("9.2/1", "driver", "SHOULD", "Only in comments and loose text."),
  req("9.2/2", "device", "MUST", "Checked only from outside the check roots."),
  req("9.2/3", "driver", "MUST", "Checked in machine.ts."),
];

const FIXTURE_NOTES: Readonly<Record<string, string>> = {
  "9.1/2": "A MAY statement.",
  "9.10/1": "Cannot be seen from the other side.",
};

const FIXTURE_FILES: Record<string, string | Uint8Array> = {
  // Lists every id but checks nothing: never "checked in".
  "spec/requirements.ts":
    `export const T = ["9.1/1", "9.1/2", "9.1/D1", "9.10/1", "9.2/1", "9.2/2", "9.2/3"];`,
  "spec/coverage_notes.ts": `export const U = { "9.1/2": "may", "9.10/1": "no" };`,
  "spec/other.ts": `log.report({ id: '9.1/1', message: "quoted with single quotes" });`,
  "transport/regs.ts": [
    `// reporter.report("9.2/1", "in a line comment");`,
    `/* and "9.2/1" in a block comment */`,
    `const re = /"[^"]*"/g; // a regex with quotes must not start a string`,
    "const msg = `9.2/1${n}`; // a template with a substitution is not a plain literal",
    `const loose = "see 9.2/1"; // not the whole literal`,
    `if (a / b > 2) reporter.report("9.1/1", "after a division", {}, "logged");`,
    "reporter.report(`9.1/D1`, `a template without substitutions`);",
  ].join("\n"),
  "virtqueue/q.js": `report("9.1/1")`,
  "virtqueue/notes.md": `"9.2/2" in Markdown is not code`,
  "machine.ts": `reporter.report("9.2/3", "machine-level check");`,
  "cli/main.ts": `reporter.report("9.2/2", "cli is not a check root");`,
  "tests/transport/regs_test.ts": `assert.ok(log.has("9.1/1")); // '9.1/D1' too`,
  "tests/helpers/bad_driver.ts": "export const RULE = `9.10/1`;",
  "tests/fixtures/disk.img": Uint8Array.of(0x22, 0x39, 0x2e, 0x31, 0x2f, 0x31, 0x22, 0, 1),
  "tests/fixtures/notes.txt": `"9.1/2" only in a non-code file`,
  "lessons/README.md": `"9.2/3" is outside any lesson folder`,
  "lessons/01-mmio/lesson.json": `{ "requirements": ["9.1/1", "9.10/1"] }`,
  "lessons/02-ring/lesson.md": "We teach `9.1/1` and `9.1/D1`; 9.2/1 unquoted does not count.",
  "lessons/02-ring/sub/grader.ts": `report('9.1/1')`,
  "node_modules/pkg/index.ts": `report("9.2/1")`,
  "transport/.hidden/x.ts": `report("9.2/1")`,
  "devices/.cache.ts": `report("9.2/1")`,
};

const EXPECTED_ROWS: readonly CoverageRow[] = [
  {
    id: "9.1/1",
    section: "9.1",
    role: "driver",
    level: "MUST",
    summary: "The first rule.",
    checkedIn: ["spec/other.ts", "transport/regs.ts", "virtqueue/q.js"],
    triggeredBy: ["tests/transport/regs_test.ts"],
    taughtIn: ["lessons/01-mmio", "lessons/02-ring"],
    whyNotChecked: "",
  },
  {
    id: "9.1/2",
    section: "9.1",
    role: "device",
    level: "MAY",
    summary: "A permission | with a pipe.",
    checkedIn: [],
    triggeredBy: [],
    taughtIn: [],
    whyNotChecked: "A MAY statement.",
  },
  {
    id: "9.1/D1",
    section: "9.1",
    role: "driver",
    level: "derived",
    summary: "A derived rule.",
    checkedIn: ["transport/regs.ts"],
    triggeredBy: ["tests/transport/regs_test.ts"],
    taughtIn: ["lessons/02-ring"],
    whyNotChecked: "",
  },
  {
    id: "9.2/1",
    section: "9.2",
    role: "driver",
    level: "SHOULD",
    summary: "Only in comments and loose text.",
    checkedIn: [],
    triggeredBy: [],
    taughtIn: [],
    whyNotChecked: "",
  },
  {
    id: "9.2/2",
    section: "9.2",
    role: "device",
    level: "MUST",
    summary: "Checked only from outside the check roots.",
    checkedIn: [],
    triggeredBy: [],
    taughtIn: [],
    whyNotChecked: "",
  },
  {
    id: "9.2/3",
    section: "9.2",
    role: "driver",
    level: "MUST",
    summary: "Checked in machine.ts.",
    checkedIn: ["machine.ts"],
    triggeredBy: [],
    taughtIn: [],
    whyNotChecked: "",
  },
  {
    id: "9.10/1",
    section: "9.10",
    role: "device",
    level: "MUST",
    summary: "Ten comes after two.",
    checkedIn: [],
    triggeredBy: ["tests/helpers/bad_driver.ts"],
    taughtIn: ["lessons/01-mmio"],
    whyNotChecked: "Cannot be seen from the other side.",
  },
];

async function withFixture(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "virtio-lab-coverage-" });
  try {
    for (const [path, content] of Object.entries(FIXTURE_FILES)) {
      const full = join(root, path);
      await Deno.mkdir(join(full, ".."), { recursive: true });
      if (typeof content === "string") await Deno.writeTextFile(full, content);
      else await Deno.writeFile(full, content);
    }
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("collectRepoFiles reads text files of the scanned folders only", async () => {
  await withFixture(async (root) => {
    const files = await collectRepoFiles(root);
    assert.deepEqual(files.map((f) => f.path), [
      "lessons/01-mmio/lesson.json",
      "lessons/02-ring/lesson.md",
      "lessons/02-ring/sub/grader.ts",
      "lessons/README.md",
      "machine.ts",
      "spec/coverage_notes.ts",
      "spec/other.ts",
      "spec/requirements.ts",
      "tests/fixtures/notes.txt",
      "tests/helpers/bad_driver.ts",
      "tests/transport/regs_test.ts",
      "transport/regs.ts",
      "virtqueue/notes.md",
      "virtqueue/q.js",
    ]);
    assert.equal(files.find((f) => f.path === "machine.ts")?.text, FIXTURE_FILES["machine.ts"]);
  });
});

Deno.test("the generator on a fixture tree gives the expected rows", async () => {
  await withFixture(async (root) => {
    const rows = buildCoverageTable({
      requirements: FIXTURE_REQUIREMENTS,
      uncheckable: FIXTURE_NOTES,
      files: await collectRepoFiles(root),
    });
    assert.deepEqual(rows, EXPECTED_ROWS);
    assert.deepEqual(countCoverage(rows), {
      total: 7,
      checked: 3,
      triggered: 3,
      taught: 3,
      uncheckable: 2,
      neither: 2,
    });
  });
});

Deno.test("the Markdown has the counts, one table per section group and escaped cells", () => {
  const text = renderCoverageMarkdown(EXPECTED_ROWS, { "9.1": "Group one", "9.2": "Group two" });
  const lines = text.split("\n");
  assert.equal(lines[0], "<!-- deno-fmt-ignore-file -->");
  assert.ok(text.endsWith("|\n"), "ends with the last row and one newline");
  assert.ok(!text.endsWith("\n\n"));
  assert.ok(text.includes(REGENERATE_COMMAND));
  assert.ok(lines.includes("| requirements | 6 | 1 | 7 |"));
  assert.ok(lines.includes("| checked | 2 | 1 | 3 |"));
  assert.ok(lines.includes("| triggered by a test | 2 | 1 | 3 |"));
  assert.ok(lines.includes("| taught in a lesson | 2 | 1 | 3 |"));
  assert.ok(lines.includes("| uncheckable from the other side | 2 | 0 | 2 |"));
  assert.ok(lines.includes("| neither checked nor explained | 2 | 0 | 2 |"));
  const headings = lines.filter((l) => l.startsWith("### "));
  assert.deepEqual(headings, ["### 9.1 Group one", "### 9.2 Group two", "### 9.10"]);
  assert.ok(
    lines.includes(
      "| 9.1/1 | driver | MUST | The first rule. | `spec/other.ts`, `transport/regs.ts`, " +
        "`virtqueue/q.js` | `tests/transport/regs_test.ts` | `lessons/01-mmio`, `lessons/02-ring` |  |",
    ),
  );
  assert.ok(
    lines.includes(
      "| 9.1/2 | device | MAY | A permission \\| with a pipe. |  |  |  | A MAY statement. |",
    ),
  );
  assert.equal(lines.filter((l) => /^\| 9\./.test(l)).length, 7);
  assert.ok(!text.includes("Checked although marked uncheckable"));
});

Deno.test("an id both checked and marked uncheckable is called out", () => {
  const rows = EXPECTED_ROWS.map((r) =>
    r.id === "9.1/1" ? { ...r, whyNotChecked: "Wrongly marked." } : r
  );
  const text = renderCoverageMarkdown(rows, {});
  assert.ok(text.includes("Checked although marked uncheckable"));
  assert.ok(text.includes(": 9.1/1."));
});

Deno.test("rendering is deterministic and needs no file system", () => {
  assert.equal(
    renderCoverageMarkdown(EXPECTED_ROWS, {}),
    renderCoverageMarkdown(EXPECTED_ROWS, {}),
  );
  assert.equal(
    renderCoverageMarkdown([], {}).split("\n").filter((l) => l.startsWith("|")).length,
    8,
    "an empty table still has the summary",
  );
});

Deno.test("notes for unknown ids and duplicate ids are rejected", () => {
  assert.throws(
    () =>
      buildCoverageTable({
        requirements: FIXTURE_REQUIREMENTS,
        uncheckable: { "9.9/9": "typo" },
        files: [],
      }),
    (e: unknown) => e instanceof RangeError && e.message.includes('"9.9/9"'),
  );
  assert.throws(
    () =>
      buildCoverageTable({
        requirements: [...FIXTURE_REQUIREMENTS, FIXTURE_REQUIREMENTS[0]],
        uncheckable: {},
        files: [],
      }),
    RangeError,
  );
});

Deno.test("stringLiterals finds plain literals outside comments, regexes and substitutions", () => {
  const source = [
    `const a = "double", b = 'single', c = \`plain\`;`,
    `// "line comment"`,
    `/* "block comment" */`,
    `const d = "esc\\"aped";`,
    `const r = /["']/g.test(x) ? "after regex" : 'x';`,
    `const q = total / count / 2; const e = "after division";`,
    'const t = `a${{ k: "inner" }.k}b${`nested`}c`;',
    `return /"/.source + "after return regex";`,
    `const u = "url://not-a-comment";`,
  ].join("\n");
  assert.deepEqual(stringLiterals(source), [
    "double",
    "single",
    "plain",
    'esc\\"aped',
    "after regex",
    "x",
    "after division",
    "inner",
    "nested",
    "after return regex",
    "url://not-a-comment",
  ]);
});

Deno.test("runCoverageCli writes the table, then --check passes until the tree changes", async () => {
  await withFixture(async (root) => {
    const out: string[] = [];
    const err: string[] = [];
    const options = {
      root,
      requirements: FIXTURE_REQUIREMENTS,
      uncheckable: FIXTURE_NOTES,
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
    };
    assert.equal(await runCoverageCli(["--check"], options), 1, "missing file fails the check");
    assert.deepEqual(err, [
      `${COVERAGE_PATH} is missing; regenerate it with: ${REGENERATE_COMMAND}`,
    ]);

    assert.equal(await runCoverageCli([], options), 0);
    assert.match(out.at(-1)!, /^Wrote docs\/COVERAGE\.md: 7 requirements, 3 checked/);
    const written = await Deno.readTextFile(join(root, COVERAGE_PATH));
    assert.equal(written, renderCoverageMarkdown(EXPECTED_ROWS));
    assert.equal(
      written,
      await generateCoverage(root, FIXTURE_REQUIREMENTS, FIXTURE_NOTES),
    );

    assert.equal(await runCoverageCli(["--check"], options), 0);
    assert.equal(out.at(-1), `${COVERAGE_PATH} is up to date.`);

    await Deno.writeTextFile(join(root, "devices/blk.ts"), `report("9.2/2", "now checked")`);
    err.length = 0;
    assert.equal(await runCoverageCli(["--check"], options), 1);
    assert.deepEqual(err, [
      `${COVERAGE_PATH} is out of date; regenerate it with: ${REGENERATE_COMMAND}`,
    ]);
    assert.equal(err[0].split("\n").length, 1, "one line");

    err.length = 0;
    assert.equal(await runCoverageCli(["--chek"], options), 2);
    assert.match(err[0], /unknown argument --chek/);
  });
});

Deno.test("docs/COVERAGE.md in the repository is current", async () => {
  const path = join(REPO_ROOT, COVERAGE_PATH);
  let actual: string | null = null;
  try {
    actual = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const expected = await generateCoverage(REPO_ROOT);
  assert.ok(
    actual === expected,
    `${COVERAGE_PATH} is ${actual === null ? "missing" : "out of date"} ` +
      `(requirements, coverage notes, checks, tests or lessons changed). ` +
      `Regenerate it with: ${REGENERATE_COMMAND}`,
  );
});

Deno.test("no requirement is both checked in the repository and marked uncheckable", async () => {
  const rows = buildCoverageTable({
    requirements: [...NORMATIVE_REQUIREMENTS, ...DERIVED_RULES],
    uncheckable: UNCHECKABLE,
    files: await collectRepoFiles(REPO_ROOT),
  });
  const conflicts = rows.filter((r) => r.checkedIn.length > 0 && r.whyNotChecked !== "");
  assert.deepEqual(
    conflicts.map((r) => `${r.id} checked in ${r.checkedIn.join(", ")}`),
    [],
    "a check exists for these ids, so spec/coverage_notes.ts must not call them uncheckable",
  );
});
