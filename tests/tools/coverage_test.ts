// Tests for tools/coverage.ts, the generator of docs/COVERAGE.md: matching
// rules on a fixture tree, rendering, the command's exit codes, that the
// repository's own docs/COVERAGE.md is current, and that the NOT_OFFERED
// notes of conformance/coverage_notes.ts hold for the real device and driver models.
//
// The fixture uses a made-up chapter 9, and the repository checks take ids
// from the tables, so this file cites no real requirement id (it is one of
// the TABLE_TESTS the generator leaves out of "tested by" anyway).

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  buildCoverageTable,
  collectRepoFiles,
  countCoverage,
  COVERAGE_PATH,
  type CoverageRow,
  DEVICE_SIDE_FILES,
  DRIVER_SIDE_FILES,
  generateCoverage,
  isUncovered,
  KIT_CHECK_FILES,
  lexSource,
  mentionsId,
  REGENERATE_COMMAND,
  renderCoverageMarkdown,
  REPO_ROOT,
  requirementIdTokens,
  runCoverageCli,
  sideOf,
  stringLiterals,
  TABLE_TESTS,
} from "../../tools/coverage.ts";
import { NOT_OFFERED, UNCHECKABLE } from "../../conformance/coverage_notes.ts";
import {
  DERIVED_RULES,
  findRequirement,
  NORMATIVE_REQUIREMENTS,
  type Requirement,
} from "../../conformance/requirements.ts";
import { hasFeature, RESERVED_FEATURE_NAMES } from "../../virtio/features.ts";
import { VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE } from "../../virtio/device_ids.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { MmioDeviceTransport } from "../../transport/mmio_device.ts";
import { VIRTIO_MMIO_VERSION, VIRTIO_MMIO_VERSION_MODERN } from "../../transport/mmio_registers.ts";
import type { VirtioDevice } from "../../virtio/device.ts";
import type { VirtioDriver } from "../../virtio/driver.ts";
import { MemoryBlockBackend } from "../../devices/blk/backends.ts";
import { VirtioBlockDevice } from "../../devices/blk/device.ts";
import { VirtioBlockDriver } from "../../devices/blk/driver.ts";
import { VIRTIO_BLK_FEATURE_NAMES } from "../../devices/blk/constants.ts";
import { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import { VirtioConsoleDevice } from "../../devices/console/device.ts";
import { VirtioConsoleDriver } from "../../devices/console/driver.ts";
import { VIRTIO_CONSOLE_FEATURE_NAMES } from "../../devices/console/constants.ts";
import { REFERENCE_DRIVERS } from "../../devices/mod.ts";

function req(
  id: string,
  role: Requirement["role"],
  level: Requirement["level"],
  summary: string,
): Requirement {
  const section = id.slice(0, id.indexOf("/"));
  return {
    id: id as Requirement["id"],
    section,
    sectionTitle: `Title ${section}`,
    role,
    level,
    summary,
  };
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
  req("9.3/1", "device", "MUST", "Obeyed by the device."),
  req("9.3/2", "driver", "MUST", "Obeyed by the driver."),
  req("9.3/D1", "device", "derived", "Cited only where it does not count."),
  req("9.4/1", "driver", "MUST", "A rule of a feature never offered."),
];

const FIXTURE_NOTES: Readonly<Record<string, string>> = {
  "9.1/2": "A MAY statement.",
  "9.10/1": "Cannot be seen from the other side.",
};

const FIXTURE_NOT_OFFERED: Readonly<Record<string, string>> = {
  "9.4/1": "Only with VIRTIO_F_NINE, never offered.",
};

const FIXTURE_FILES: Record<string, string | Uint8Array> = {
  // Lists every id but checks nothing: never "checked in".
  "conformance/requirements.ts":
    `export const T = ["9.1/1", "9.1/2", "9.1/D1", "9.10/1", "9.2/1", "9.2/2", "9.2/3"];`,
  "conformance/coverage_notes.ts": `export const U = { "9.1/2": "may", "9.10/1": "no" };`,
  "conformance/other.ts": `log.report({ id: '9.1/1', message: "quoted with single quotes" });`,
  "transport/regs.ts": [
    `// reporter.report("9.2/1", "in a line comment");`,
    `/* and "9.2/1" in a block comment */`,
    `const re = /"[^"]*"/g; // a regex with quotes must not start a string`,
    "const msg = `9.2/1${n}`; // a template with a substitution is not a plain literal",
    `const loose = "see 9.2/1"; // not the whole literal`,
    `if (a / b > 2) reporter.report("9.1/1", "after a division", {}, "logged");`,
    "reporter.report(`9.1/D1`, `a template without substitutions`);",
    `// 9.3/1 and 9.3/2 cited in a shared file: obeyed by neither side.`,
  ].join("\n"),
  "virtqueue/q.js": `report("9.1/1")`,
  "virtqueue/notes.md": `"9.2/2" in Markdown is not code`,
  // Device side.
  "transport/mmio_device.ts": [
    `/**`,
    ` * Resets the device (§9.3/1). A driver rule cited here is not obeyed here (9.3/2).`,
    ` */`,
    `export function reset(): void {}`,
  ].join("\n"),
  "devices/blk/device.ts": `// Keeps (9.3/1, 9.3/D10) and 19.3/D1 and 9.3/D1.2 and 9.3/D1/2.`,
  "virtqueue/device_queue.ts": `const message = "device obeys 9.3/D1"; // only a string`,
  // Driver side.
  "virtqueue/driver_queue.ts":
    `// Cites 9.3/20, 19.3/2, 9.3/2.1, 9.3/2/1 and x9.3/2, none of them the rule.`,
  "devices/console/driver.ts": `export const x = 1; // The driver keeps 9.3/2.`,
  "guest/shell.ts": `/** The guest obeys [9.3/2]. */\nexport const y = 2;`,
  "guest/notes.md": `9.1/1 in Markdown is not code`,
  "machine.ts": `reporter.report("9.2/3", "machine-level check");`,
  "cli/main.ts": `reporter.report("9.2/2", "cli is not a check root");`,
  "tests/transport/regs_test.ts": `assert.ok(log.has("9.1/1")); // '9.1/D1' too`,
  "tests/helpers/bad_driver.ts": "export const RULE = `9.10/1`;",
  "tests/guest/shell_test.ts": [
    `Deno.test("the shell keeps the rule (9.3/2, §9.1/2)", () => {});`,
    `// 9.2/10 and 19.2/3 are other ids.`,
  ].join("\n"),
  "tests/conformance/requirements_test.ts": `const ids = "9.2/3 9.3/1 9.4/1";`,
  "tests/fixtures/disk.img": Uint8Array.of(0x22, 0x39, 0x2e, 0x31, 0x2f, 0x31, 0x22, 0, 1),
  "tests/fixtures/notes.txt": `"9.1/2" only in a non-code file`,
  "lessons/README.md": `"9.2/3" is outside any lesson folder`,
  "lessons/01-mmio/lesson.json": `{ "requirements": ["9.1/1", "9.10/1"] }`,
  "lessons/02-ring/lesson.md": "We teach `9.1/1` and `9.1/D1`; 9.2/1 unquoted does not count.",
  "lessons/02-ring/sub/grader.ts": `report('9.1/1')`,
  "lessons/kit/rules.ts": `the shared kit quotes "9.10/1" but is not a lesson`,
  "node_modules/pkg/index.ts": `report("9.2/1")`,
  "transport/.hidden/x.ts": `report("9.2/1")`,
  "devices/.cache.ts": `report("9.2/1")`,
};

/** A row of the fixture's table: the requirement's fields, then the given columns, others empty. */
function expectRow(
  id: string,
  columns: Partial<Omit<CoverageRow, "id" | "section" | "role" | "level" | "summary">>,
): CoverageRow {
  const r = FIXTURE_REQUIREMENTS.find((x) => x.id === id)!;
  return {
    id,
    section: r.section,
    role: r.role,
    level: r.level,
    summary: r.summary,
    checkedIn: [],
    obeyedIn: [],
    testedBy: [],
    taughtIn: [],
    whyNotChecked: "",
    notOffered: "",
    ...columns,
  };
}

const EXPECTED_ROWS: readonly CoverageRow[] = [
  expectRow("9.1/1", {
    checkedIn: ["conformance/other.ts", "transport/regs.ts", "virtqueue/q.js"],
    testedBy: ["tests/transport/regs_test.ts"],
    taughtIn: ["lessons/01-mmio", "lessons/02-ring"],
  }),
  expectRow("9.1/2", {
    testedBy: ["tests/guest/shell_test.ts"],
    whyNotChecked: "A MAY statement.",
  }),
  expectRow("9.1/D1", {
    checkedIn: ["transport/regs.ts"],
    testedBy: ["tests/transport/regs_test.ts"],
    taughtIn: ["lessons/02-ring"],
  }),
  expectRow("9.2/1", {}),
  expectRow("9.2/2", {}),
  expectRow("9.2/3", { checkedIn: ["machine.ts"] }),
  expectRow("9.3/1", { obeyedIn: ["devices/blk/device.ts", "transport/mmio_device.ts"] }),
  expectRow("9.3/2", {
    obeyedIn: ["devices/console/driver.ts", "guest/shell.ts"],
    testedBy: ["tests/guest/shell_test.ts"],
  }),
  expectRow("9.3/D1", {}),
  expectRow("9.4/1", { notOffered: "Only with VIRTIO_F_NINE, never offered." }),
  expectRow("9.10/1", {
    testedBy: ["tests/helpers/bad_driver.ts"],
    taughtIn: ["lessons/01-mmio"],
    whyNotChecked: "Cannot be seen from the other side.",
  }),
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
      "conformance/coverage_notes.ts",
      "conformance/other.ts",
      "conformance/requirements.ts",
      "devices/blk/device.ts",
      "devices/console/driver.ts",
      "guest/notes.md",
      "guest/shell.ts",
      "lessons/01-mmio/lesson.json",
      "lessons/02-ring/lesson.md",
      "lessons/02-ring/sub/grader.ts",
      "lessons/README.md",
      "lessons/kit/rules.ts",
      "machine.ts",
      "tests/conformance/requirements_test.ts",
      "tests/fixtures/notes.txt",
      "tests/guest/shell_test.ts",
      "tests/helpers/bad_driver.ts",
      "tests/transport/regs_test.ts",
      "transport/mmio_device.ts",
      "transport/regs.ts",
      "virtqueue/device_queue.ts",
      "virtqueue/driver_queue.ts",
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
      notOffered: FIXTURE_NOT_OFFERED,
      files: await collectRepoFiles(root),
    });
    assert.deepEqual(rows, EXPECTED_ROWS);
    assert.deepEqual(countCoverage(rows), {
      total: 11,
      checked: 3,
      obeyed: 2,
      tested: 5,
      taught: 3,
      uncheckable: 2,
      notOffered: 1,
      none: 3,
    });
    assert.deepEqual(rows.filter(isUncovered).map((r) => r.id), ["9.2/1", "9.2/2", "9.3/D1"]);
  });
});

Deno.test("checked in: the kit's concurrent observers count as checks, the rest of the kit does not", () => {
  assert.deepEqual(KIT_CHECK_FILES, ["lessons/kit/observer.ts"]);
  const rows = buildCoverageTable({
    requirements: [req("9.2/1", "driver", "MUST", "o"), req("9.2/2", "driver", "MUST", "k")],
    uncheckable: {},
    notOffered: {},
    files: [
      { path: "lessons/kit/observer.ts", text: `reporter.report("9.2/1", "seen");` },
      { path: "lessons/kit/hostile_driver.ts", text: `const rule = "9.2/2";` },
      { path: "lessons/01-x/grader.ts", text: `requirement: "9.2/2",` },
    ],
  });
  assert.deepEqual(rows.map((r) => [r.id, r.checkedIn, r.obeyedIn]), [
    ["9.2/1", ["lessons/kit/observer.ts"], []],
    ["9.2/2", [], []],
  ]);
});

Deno.test("obeyed in: own-side files citing the id in comments, not shared files or strings", () => {
  const files = [
    { path: "transport/mmio_device.ts", text: "/** Clears it (9.3/1). */" },
    { path: "transport/mmio_driver.ts", text: "// The device must do this (9.3/1)." },
    { path: "transport/types.ts", text: "/** Devices keep 9.3/1. */" },
    { path: "devices/net/backends.ts", text: `throw new Error("9.3/1");` },
    { path: "devices/net/driver.ts", text: "// §9.3/2, when it applies." },
    { path: "guest/sub/tool.ts", text: "// 9.3/2" },
    { path: "lessons/03-x/device.ts", text: "// 9.3/1 (not a source root)" },
    { path: "devices/net/device.md", text: "9.3/1 (not code)" },
  ];
  const rows = buildCoverageTable({
    requirements: [req("9.3/1", "device", "MUST", "d"), req("9.3/2", "driver", "MUST", "r")],
    uncheckable: {},
    notOffered: {},
    files,
  });
  assert.deepEqual(rows.map((r) => [r.id, r.obeyedIn, r.checkedIn]), [
    ["9.3/1", ["transport/mmio_device.ts"], ["devices/net/backends.ts"]],
    ["9.3/2", ["devices/net/driver.ts", "guest/sub/tool.ts"], []],
  ]);
});

Deno.test("sideOf follows the documented device and driver file lists", () => {
  const cases: [string, "device" | "driver" | "both" | null][] = [
    ["transport/mmio_device.ts", "device"],
    ["transport/device_status.ts", "device"],
    ["transport/mmio_registers.ts", "device"],
    ["virtqueue/device_queue.ts", "device"],
    ["virtqueue/chain.ts", "device"],
    ["devices/blk/device.ts", "device"],
    ["devices/console/backends.ts", "device"],
    ["devices/net/device.ts", "device"],
    ["transport/mmio_driver.ts", "driver"],
    ["transport/virtio_bus.ts", "driver"],
    ["virtqueue/driver_queue.ts", "driver"],
    ["devices/console/driver.ts", "driver"],
    ["guest/shell.ts", "driver"],
    ["guest/deep/er/file.ts", "driver"],
    ["devices/blk/request.ts", "both"],
    ["devices/console/receive.ts", "both"],
    ["transport/types.ts", null],
    ["transport/mmio_bus.ts", null],
    ["virtqueue/event_idx.ts", null],
    ["devices/common.ts", null],
    ["devices/blk/constants.ts", null],
    ["devices/blk/sub/device.ts", null],
    ["machine.ts", null],
    ["conformance/log.ts", null],
    ["memory/guest_memory.ts", null],
    ["guestbook/x.ts", null],
  ];
  for (const [path, side] of cases) assert.equal(sideOf(path), side, path);
  assert.ok(Object.isFrozen(DEVICE_SIDE_FILES) && Object.isFrozen(DRIVER_SIDE_FILES));
});

Deno.test("ids are matched as whole tokens", () => {
  const cites = [
    "9.2.2.1/5",
    "§9.2.2.1/5",
    "(9.2.2.1/5, 9.4.1/1)",
    "(9.4.1/1, 9.2.2.1/5)",
    "`9.2.2.1/5`",
    '"9.2.2.1/5"',
    "[9.2.2.1/5]",
    "see 9.2.2.1/5.",
    "see 9.2.2.1/5, then",
    "rule 9.2.2.1/5: reset",
    "9.2.2.1/5\nnext line",
    "a 9.2.2.1/5-style rule",
    "id=9.2.2.1/5;",
  ];
  for (const text of cites) assert.ok(mentionsId(text, "9.2.2.1/5"), text);
  const others = [
    "9.2.2.1/50",
    "9.2.2.1/51 and 9.2.2.1/500",
    "19.2.2.1/5",
    "1.9.2.2.1/5",
    "x9.2.2.1/5",
    "_9.2.2.1/5",
    "9.2.2.1/5a",
    "9.2.2.1/5_b",
    "9.2.2.1/5.1",
    "9.2.2.1/5/2",
    "a/9.2.2.1/5",
    "9.2.2.1",
    "§9.2.2.1",
    "9.2.2.1 /5",
    "9.2.2.1/ 5",
    "9.2.2.1/D5",
    "9.2.2/5",
    "2.2.1/5",
  ];
  for (const text of others) assert.ok(!mentionsId(text, "9.2.2.1/5"), text);
  assert.ok(mentionsId("(9.1.1/2, 9.1.1/20)", "9.1.1/2"), "both ids in one list");
  assert.ok(!mentionsId("9.1.1/20", "9.1.1/2"), "2 is not a prefix match of 20");
  assert.ok(mentionsId("§9.7.5/D1.", "9.7.5/D1"));
  assert.ok(!mentionsId("9.7.5/D10", "9.7.5/D1"));
  assert.ok(!mentionsId("9.7.5/D1x", "9.7.5/D1"));
  assert.deepEqual(
    [...requirementIdTokens("Reset (§9.2.2.1/8, 9.2.2.1/9, 9.2.2.1/12); 8/16/32-bit; v1.2")],
    ["9.2.2.1/8", "9.2.2.1/9", "9.2.2.1/12"],
  );
});

Deno.test("tested by: the id anywhere in a test file, except the table tests", () => {
  const files = [
    { path: "tests/a_test.ts", text: `Deno.test("resets (9.5/1, 9.5/2)", () => {});` },
    { path: "tests/b_test.ts", text: "// the rule of §9.5/2 and /3" },
    { path: "tests/c_test.ts", text: `assert.equal(v.id, "9.5/3");` },
    { path: "tests/d_test.ts", text: "// 9.5/30, 19.5/3, 9.5/3.1" },
    { path: "tests/fixtures/e.md", text: "9.5/1 (not code)" },
    ...TABLE_TESTS.map((path) => ({ path, text: `const ids = "9.5/1 9.5/2 9.5/3";` })),
  ];
  const rows = buildCoverageTable({
    requirements: ["9.5/1", "9.5/2", "9.5/3"].map((id) => req(id, "driver", "MUST", "s")),
    uncheckable: {},
    notOffered: {},
    files,
  });
  assert.deepEqual(rows.map((r) => [r.id, r.testedBy]), [
    ["9.5/1", ["tests/a_test.ts"]],
    ["9.5/2", ["tests/a_test.ts", "tests/b_test.ts"]],
    ["9.5/3", ["tests/c_test.ts"]],
  ]);
});

Deno.test("the Markdown has the counts, one table per section group and escaped cells", () => {
  const text = renderCoverageMarkdown(EXPECTED_ROWS, {
    "9.1": "Group one",
    "9.2": "Group two",
    "9.3": "Group three",
  });
  const lines = text.split("\n");
  assert.equal(lines[0], "<!-- deno-fmt-ignore-file -->");
  assert.ok(text.endsWith("|\n"), "ends with the last row and one newline");
  assert.ok(!text.endsWith("\n\n"));
  assert.ok(text.includes(REGENERATE_COMMAND));
  for (const pattern of [...DEVICE_SIDE_FILES, ...DRIVER_SIDE_FILES, ...TABLE_TESTS]) {
    assert.ok(text.includes(`\`${pattern}\``), `the page documents ${pattern}`);
  }
  for (
    const row of [
      "| requirements | 9 | 2 | 11 |",
      "| checked in source | 2 | 1 | 3 |",
      "| obeyed in source | 2 | 0 | 2 |",
      "| tested | 4 | 1 | 5 |",
      "| taught in a lesson | 2 | 1 | 3 |",
      "| uncheckable from the other side | 2 | 0 | 2 |",
      "| not offered by this lab | 1 | 0 | 1 |",
      "| none of these | 2 | 1 | 3 |",
    ]
  ) assert.ok(lines.includes(row), row);
  const headings = lines.filter((l) => l.startsWith("### "));
  assert.deepEqual(headings, [
    "### 9.1 Group one",
    "### 9.2 Group two",
    "### 9.3 Group three",
    "### 9.4",
    "### 9.10",
  ]);
  assert.ok(
    lines.includes(
      "| id | role | level | summary | checked in | obeyed in | tested by | taught in | why not checked |",
    ),
  );
  assert.ok(
    lines.includes(
      "| 9.1/1 | driver | MUST | The first rule. | `conformance/other.ts`, `transport/regs.ts`, " +
        "`virtqueue/q.js` |  | `tests/transport/regs_test.ts` | `lessons/01-mmio`, `lessons/02-ring` |  |",
    ),
  );
  assert.ok(
    lines.includes(
      "| 9.1/2 | device | MAY | A permission \\| with a pipe. |  |  | `tests/guest/shell_test.ts` |  | " +
        "A MAY statement. |",
    ),
  );
  assert.ok(
    lines.includes(
      "| 9.3/2 | driver | MUST | Obeyed by the driver. |  | `devices/console/driver.ts`, " +
        "`guest/shell.ts` | `tests/guest/shell_test.ts` |  |  |",
    ),
  );
  assert.ok(
    lines.includes(
      "| 9.4/1 | driver | MUST | A rule of a feature never offered. |  |  |  |  | " +
        "Not offered: Only with VIRTIO_F_NINE, never offered. |",
    ),
  );
  assert.equal(lines.filter((l) => /^\| 9\./.test(l)).length, 11);
  assert.ok(!text.includes("Checked although marked"));
});

Deno.test("an id both checked and marked uncheckable or not offered is called out", () => {
  const rows = EXPECTED_ROWS.map((r) =>
    r.id === "9.1/1"
      ? { ...r, whyNotChecked: "Wrongly marked." }
      : r.id === "9.1/D1"
      ? { ...r, notOffered: "Wrongly marked." }
      : r
  );
  const text = renderCoverageMarkdown(rows, {});
  assert.ok(text.includes("Checked although marked uncheckable"));
  assert.ok(text.includes("uncheckable (fix `conformance/coverage_notes.ts`): 9.1/1."));
  assert.ok(text.includes("not offered (fix `conformance/coverage_notes.ts`): 9.1/D1."));
});

Deno.test("rendering is deterministic and needs no file system", () => {
  assert.equal(
    renderCoverageMarkdown(EXPECTED_ROWS, {}),
    renderCoverageMarkdown(EXPECTED_ROWS, {}),
  );
  assert.equal(
    renderCoverageMarkdown([], {}).split("\n").filter((l) => l.startsWith("|")).length,
    10,
    "an empty table still has the summary",
  );
});

Deno.test("notes for unknown ids, ids in both notes and duplicate ids are rejected", () => {
  const build = (
    uncheckable: Record<string, string>,
    notOffered: Record<string, string>,
    requirements = FIXTURE_REQUIREMENTS,
  ) =>
  () => buildCoverageTable({ requirements, uncheckable, notOffered, files: [] });
  assert.throws(
    build({ "9.9/9": "typo" }, {}),
    (e: unknown) => e instanceof RangeError && e.message.includes('"9.9/9"'),
  );
  assert.throws(
    build({}, { "9.9/8": "typo" }),
    (e: unknown) => e instanceof RangeError && e.message.includes('"9.9/8"'),
  );
  assert.throws(
    build({ "9.4/1": "a" }, { "9.4/1": "b" }),
    (e: unknown) => e instanceof RangeError && /both uncheckable and not offered/.test(e.message),
  );
  assert.throws(build({}, {}, [...FIXTURE_REQUIREMENTS, FIXTURE_REQUIREMENTS[0]]), RangeError);
});

Deno.test("lexSource returns comments with their delimiters, apart from the literals", () => {
  const source = [
    `/** Doc (9.1/1). */`,
    `const a = "// not a comment"; // tail "quoted"`,
    `const r = /\\/\\*/; /* block`,
    `  spans lines */`,
    "const t = `/* nor this */`;",
  ].join("\n");
  const parts = lexSource(source);
  assert.deepEqual(parts.comments, [
    `/** Doc (9.1/1). */`,
    `// tail "quoted"`,
    `/* block\n  spans lines */`,
  ]);
  assert.deepEqual(parts.literals, ["// not a comment", "/* nor this */"]);
  assert.deepEqual(lexSource("// open to the end").comments, ["// open to the end"]);
  assert.deepEqual(lexSource("/* never closed").comments, ["/* never closed"]);
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
      notOffered: FIXTURE_NOT_OFFERED,
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
    };
    assert.equal(await runCoverageCli(["--check"], options), 1, "missing file fails the check");
    assert.deepEqual(err, [
      `${COVERAGE_PATH} is missing; regenerate it with: ${REGENERATE_COMMAND}`,
    ]);

    assert.equal(await runCoverageCli([], options), 0);
    assert.equal(
      out.at(-1),
      "Wrote docs/COVERAGE.md: 11 requirements, 3 checked, 2 obeyed, 5 tested, 3 taught, " +
        "2 uncheckable, 1 not offered, 3 none of these.",
    );
    const written = await Deno.readTextFile(join(root, COVERAGE_PATH));
    assert.equal(written, renderCoverageMarkdown(EXPECTED_ROWS));
    assert.equal(
      written,
      await generateCoverage(root, FIXTURE_REQUIREMENTS, FIXTURE_NOTES, FIXTURE_NOT_OFFERED),
    );

    assert.equal(await runCoverageCli(["--check"], options), 0);
    assert.equal(out.at(-1), `${COVERAGE_PATH} is up to date.`);

    await Deno.writeTextFile(join(root, "devices/blk.ts"), `report("9.4/1", "now checked")`);
    err.length = 0;
    assert.equal(await runCoverageCli(["--check"], options), 1);
    assert.deepEqual(err, [
      `${COVERAGE_PATH} is out of date; regenerate it with: ${REGENERATE_COMMAND}`,
    ]);
    assert.equal(err[0].split("\n").length, 1, "one line");
    assert.equal(await runCoverageCli([], options), 0);
    assert.ok(
      (await Deno.readTextFile(join(root, COVERAGE_PATH))).includes(
        "Checked although marked not offered (fix `conformance/coverage_notes.ts`): 9.4/1.",
      ),
    );

    // A trailing newline less is stale too: the check is byte-exact.
    const current = await Deno.readTextFile(join(root, COVERAGE_PATH));
    await Deno.writeTextFile(join(root, COVERAGE_PATH), current.slice(0, -1));
    assert.equal(await runCoverageCli(["--check"], options), 1);

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

async function repositoryRows(): Promise<CoverageRow[]> {
  return buildCoverageTable({
    requirements: [...NORMATIVE_REQUIREMENTS, ...DERIVED_RULES],
    uncheckable: UNCHECKABLE,
    notOffered: NOT_OFFERED,
    files: await collectRepoFiles(REPO_ROOT),
  });
}

Deno.test("no requirement is both checked in the repository and marked uncheckable", async () => {
  const conflicts = (await repositoryRows()).filter((r) =>
    r.checkedIn.length > 0 && r.whyNotChecked !== ""
  );
  assert.deepEqual(
    conflicts.map((r) => `${r.id} checked in ${r.checkedIn.join(", ")}`),
    [],
    "a check exists for these ids, so conformance/coverage_notes.ts must not call them uncheckable",
  );
});

Deno.test("no requirement is both checked in the repository and marked not offered", async () => {
  const conflicts = (await repositoryRows()).filter((r) =>
    r.checkedIn.length > 0 && r.notOffered !== ""
  );
  assert.deepEqual(
    conflicts.map((r) => `${r.id} checked in ${r.checkedIn.join(", ")}`),
    [],
    "a check exists for these ids, so the feature is in use: take them out of NOT_OFFERED",
  );
});

// ---------------------------------------------------------------- NOT_OFFERED

/** A device model with one configuration, built through its real class. */
interface DeviceVariant {
  readonly label: string;
  readonly device: VirtioDevice;
}

/**
 * Every configuration of the lab's device models that changes what they
 * offer: a block device on a writable and on a read-only disk, a console
 * with and without a size. Keyed by the devices/ folder of each model.
 */
function deviceVariants(): Record<string, DeviceVariant[]> {
  return {
    blk: [false, true].map((readOnly) => ({
      label: `VirtioBlockDevice (readOnly ${readOnly})`,
      device: new VirtioBlockDevice(new MemoryBlockBackend(1 << 16, { readOnly })),
    })),
    console: [undefined, { cols: 80, rows: 25 }].map((size) => ({
      label: `VirtioConsoleDevice (size ${size ? "reported" : "none"})`,
      device: new VirtioConsoleDevice(new MemoryConsoleBackend({ size })),
    })),
  };
}

/** The reference drivers, with every option that changes what they accept. */
function driverVariants(): VirtioDriver[] {
  return [
    ...REFERENCE_DRIVERS.map((r) => r.create()),
    new VirtioBlockDriver({ flush: true }),
    new VirtioBlockDriver({ flush: false }),
    new VirtioConsoleDriver(),
  ];
}

/** A feature bit named in a NOT_OFFERED reason, and the devices it can belong to. */
interface NamedFeature {
  readonly name: string;
  readonly bit: number;
  /** Device IDs whose feature space holds the bit; `null` for the reserved bits of chapter 6. */
  readonly deviceId: number | null;
}

function invert(names: Readonly<Record<number, string>>): Map<string, number> {
  return new Map(Object.entries(names).map(([bit, name]) => [name, Number(bit)]));
}

const FEATURE_TABLES: readonly [RegExp, Map<string, number>, number | null][] = [
  [/^VIRTIO_F_/, invert(RESERVED_FEATURE_NAMES), null],
  [/^VIRTIO_BLK_F_/, invert(VIRTIO_BLK_FEATURE_NAMES), VIRTIO_ID_BLOCK],
  [/^VIRTIO_CONSOLE_F_/, invert(VIRTIO_CONSOLE_FEATURE_NAMES), VIRTIO_ID_CONSOLE],
];

/**
 * The feature bits a reason names, by their constant names.
 *
 * @throws {AssertionError} For a feature-like name no table knows.
 */
function namedFeatures(reason: string): NamedFeature[] {
  return (reason.match(/\bVIRTIO_[A-Z]+_?F_[A-Z0-9_]+\b|\bVIRTIO_F_[A-Z0-9_]+\b/g) ?? []).map(
    (name) => {
      const table = FEATURE_TABLES.find(([prefix]) => prefix.test(name));
      const bit = table?.[1].get(name);
      assert.ok(table && bit !== undefined, `unknown feature name ${name} in "${reason}"`);
      return { name, bit, deviceId: table[2] };
    },
  );
}

/** Labels of the device variants and drivers that offer or accept a feature. */
function whoUses(feature: NamedFeature): string[] {
  const users: string[] = [];
  for (const variants of Object.values(deviceVariants())) {
    for (const { label, device } of variants) {
      const applies = feature.deviceId === null || feature.deviceId === device.deviceId;
      if (applies && hasFeature(device.deviceFeatures, feature.bit)) users.push(`${label} offers`);
    }
  }
  for (const driver of driverVariants()) {
    const applies = feature.deviceId === null || feature.deviceId === driver.deviceId;
    if (applies && hasFeature(driver.supportedFeatures, feature.bit)) {
      users.push(`${driver.name} accepts`);
    }
  }
  return users;
}

const LEGACY = /\blegacy interface\b/i;

Deno.test("NOT_OFFERED: known ids, outside UNCHECKABLE, one line each naming a feature", () => {
  assert.ok(Object.isFrozen(NOT_OFFERED));
  assert.ok(Object.keys(NOT_OFFERED).length > 0);
  for (const [id, reason] of Object.entries(NOT_OFFERED)) {
    assert.ok(findRequirement(id) !== undefined, `unknown id ${id}`);
    assert.ok(!Object.hasOwn(UNCHECKABLE, id), `${id} is also in UNCHECKABLE`);
    assert.ok(reason.trim().length > 20, `${id}: reason too short`);
    assert.ok(!/[\r\n]/.test(reason), `${id}: reason spans lines`);
    assert.match(reason, /\.$/, `${id}: reason should end with a full stop`);
    assert.ok(reason.length <= 240, `${id}: reason is ${reason.length} characters`);
    assert.ok(
      namedFeatures(reason).length > 0 || LEGACY.test(reason),
      `${id}: the reason names no feature bit (VIRTIO_*F_*) and not the legacy interface`,
    );
  }
});

Deno.test("NOT_OFFERED: no device offers, and no reference driver accepts, a feature named", () => {
  const used: string[] = [];
  for (const [id, reason] of Object.entries(NOT_OFFERED)) {
    for (const feature of namedFeatures(reason)) {
      for (const user of whoUses(feature)) used.push(`${id}: ${user} ${feature.name}`);
    }
  }
  assert.deepEqual(used, [], "these features are in use, so their rules apply: add checks");
});

Deno.test("NOT_OFFERED: the feature check is not vacuous", () => {
  // Features the lab does offer must be found, for each kind of name.
  const offered = "VIRTIO_F_VERSION_1 VIRTIO_BLK_F_FLUSH VIRTIO_BLK_F_RO VIRTIO_CONSOLE_F_SIZE";
  for (const feature of namedFeatures(offered)) {
    assert.ok(whoUses(feature).length > 0, `${feature.name} should be found in use`);
  }
  // Device-specific bits count only for their own device type: the block
  // device's legacy BARRIER is bit 0, which the console does offer (as SIZE).
  const [barrier] = namedFeatures("VIRTIO_BLK_F_BARRIER");
  const [size] = namedFeatures("VIRTIO_CONSOLE_F_SIZE");
  assert.equal(barrier.bit, size.bit);
  assert.deepEqual(whoUses(barrier), []);
  assert.ok(whoUses(size).length > 0);
  assert.throws(() => namedFeatures("VIRTIO_BLK_F_NOT_A_FEATURE"), /unknown feature name/);
});

Deno.test("NOT_OFFERED: every device model is covered, and every window reads Version 2 unless built legacy", () => {
  const variants = deviceVariants();
  const models: string[] = [];
  for (const entry of Deno.readDirSync(join(REPO_ROOT, "devices"))) {
    if (!entry.isDirectory) continue;
    try {
      Deno.statSync(join(REPO_ROOT, "devices", entry.name, "device.ts"));
      models.push(entry.name);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  assert.deepEqual(
    models.sort(),
    Object.keys(variants).sort(),
    "a device model in devices/ has no variants here: add it to deviceVariants()",
  );
  // The legacy interface (MMIO Version 1) is offered, by a transport built
  // with version 1 (`lab boot --legacy`): no note may call it not offered.
  assert.ok(!Object.values(NOT_OFFERED).some((reason) => LEGACY.test(reason)));
  for (const list of Object.values(variants)) {
    for (const { label, device } of list) {
      const transport = new MmioDeviceTransport(device, {
        memory: new GuestMemory(1 << 16),
        log: new ConformanceLog(),
      });
      assert.equal(transport.read(VIRTIO_MMIO_VERSION, 4), VIRTIO_MMIO_VERSION_MODERN, label);
    }
  }
  const [{ device }] = Object.values(variants)[0];
  const legacy = new MmioDeviceTransport(device, {
    memory: new GuestMemory(1 << 16),
    log: new ConformanceLog(),
    version: 1,
  });
  assert.equal(legacy.read(VIRTIO_MMIO_VERSION, 4), 1);
});
