// Tests for conformance/requirements.ts: the requirement table's shape, its match
// with the reference REQUIREMENTS.tsv, and the lookups.
//
// Requirement ids are taken from the table, never written as quoted literals:
// tools/coverage.ts lists a test file as "triggering" every id it quotes, and
// these tests trigger no check.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  DERIVED_RULES,
  findRequirement,
  NORMATIVE_REQUIREMENTS,
  type Requirement,
  requirement,
  SECTION_TITLES,
} from "../../conformance/requirements.ts";

const ALL: readonly Requirement[] = [...NORMATIVE_REQUIREMENTS, ...DERIVED_RULES];

const REFERENCE_DIR = fileURLToPath(
  new URL("../../../shared/reference/virtio-spec-v1.2/", import.meta.url),
);
const REQUIREMENTS_TSV = `${REFERENCE_DIR}REQUIREMENTS.tsv`;
const SECTIONS_TSV = `${REFERENCE_DIR}SECTIONS.tsv`;

/** The text of a reference file, or `null` when this checkout does not have it. */
function readReference(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    throw e;
  }
}

interface TsvRow {
  readonly id: string;
  readonly section: string;
  readonly role: string;
  readonly level: string;
  readonly text: string;
}

function parseRequirementsTsv(text: string): TsvRow[] {
  const [header, ...lines] = text.split("\n").filter((l) => l.trim() !== "");
  assert.deepEqual(header.split("\t"), ["id", "section", "role", "level", "topic", "text"]);
  return lines.map((line) => {
    const [id, section, role, level, _topic, ...rest] = line.split("\t");
    return { id, section, role, level, text: rest.join("\t") };
  });
}

const requirementsTsv = readReference(REQUIREMENTS_TSV);
const sectionsTsv = readReference(SECTIONS_TSV);

/**
 * The normative sentences of §2.8 (packed virtqueues), which the extractor
 * that made REQUIREMENTS.tsv skipped: taken from packed-ring.tex in the same
 * form, kept next to this test, and spliced in before chapter 3.
 */
const PACKED_RING_ROWS: readonly TsvRow[] = parseRequirementsTsv(
  Deno.readTextFileSync(new URL("./packed_ring_requirements.tsv", import.meta.url)),
);

/** REQUIREMENTS.tsv's rows with the §2.8 rows in their place (before chapter 3). */
function withPackedRing(rows: readonly TsvRow[]): TsvRow[] {
  const at = rows.findIndex((r) => compareSections(r.section, "2.8") > 0);
  const cut = at < 0 ? rows.length : at;
  return [...rows.slice(0, cut), ...PACKED_RING_ROWS, ...rows.slice(cut)];
}

const TSV_ROWS: readonly TsvRow[] = requirementsTsv === null
  ? []
  : withPackedRing(parseRequirementsTsv(requirementsTsv));
const skipNoTsv = requirementsTsv === null
  ? ` (skipped: ${REQUIREMENTS_TSV} not found; the reference is not vendored in this checkout)`
  : "";
const skipNoSections = sectionsTsv === null
  ? ` (skipped: ${SECTIONS_TSV} not found; the reference is not vendored in this checkout)`
  : "";

/** Lower-case words, punctuation stripped (underscores and digits kept). */
function words(text: string): string[] {
  return text.toLowerCase().replace(/[^a-z0-9_\s]/g, " ").split(/\s+/).filter((w) => w !== "");
}

function ngrams(ws: readonly string[], n: number): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + n <= ws.length; i++) out.add(ws.slice(i, i + n).join(" "));
  return out;
}

/** Levenshtein distance between two strings. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Edit distance between the normalized word sequences, over the longer one's length. */
function nearCopyRatio(summary: string, spec: string): number {
  const a = words(summary).join(" ");
  const b = words(spec).join(" ");
  return editDistance(a, b) / Math.max(a.length, b.length);
}

function compareSections(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i] - pb[i];
  }
  return pa.length - pb.length;
}

Deno.test("requirement ids are unique and shaped SECTION/N (normative) or SECTION/Dn (derived)", () => {
  const seen = new Set<string>();
  for (const r of ALL) {
    assert.ok(!seen.has(r.id), `duplicate id ${r.id}`);
    seen.add(r.id);
  }
  for (const r of NORMATIVE_REQUIREMENTS) {
    assert.match(r.id, /^[1-9]\d*(\.[1-9]\d*)*\/[1-9]\d*$/, `normative id ${r.id}`);
    assert.notEqual(r.level, "derived", r.id);
  }
  for (const r of DERIVED_RULES) {
    assert.match(r.id, /^[1-9]\d*(\.[1-9]\d*)*\/D[1-9]\d*$/, `derived id ${r.id}`);
    assert.equal(r.level, "derived", r.id);
  }
});

Deno.test("each requirement's section is its id prefix and has a title", () => {
  for (const r of ALL) {
    assert.equal(r.section, r.id.slice(0, r.id.indexOf("/")), r.id);
    assert.ok(Object.hasOwn(SECTION_TITLES, r.section), `no SECTION_TITLES entry for ${r.section}`);
    assert.equal(r.sectionTitle, SECTION_TITLES[r.section], r.id);
    assert.ok(["driver", "device"].includes(r.role), `${r.id} role ${r.role}`);
  }
});

Deno.test("normative ordinals count up from 1 within each section, in spec order", () => {
  const lastOrdinal = new Map<string, number>();
  let lastSection = "";
  for (const r of NORMATIVE_REQUIREMENTS) {
    const ordinal = Number(r.id.slice(r.id.indexOf("/") + 1));
    assert.equal(ordinal, (lastOrdinal.get(r.section) ?? 0) + 1, `${r.id} out of sequence`);
    lastOrdinal.set(r.section, ordinal);
    if (r.section !== lastSection) {
      assert.ok(
        lastSection === "" || compareSections(lastSection, r.section) < 0,
        `${r.section} listed after ${lastSection}`,
      );
      lastSection = r.section;
    }
  }
});

Deno.test({
  name: `normative rows are exactly REQUIREMENTS.tsv's ids, roles and levels, in order${skipNoTsv}`,
  ignore: requirementsTsv === null,
  fn() {
    assert.deepEqual(
      NORMATIVE_REQUIREMENTS.map((r) => [r.id, r.section, r.role, r.level]),
      TSV_ROWS.map((t) => [t.id, t.section, t.role, t.level]),
    );
  },
});

Deno.test({
  name: `section titles match SECTIONS.tsv, except the 2.7.8.x shift it has${skipNoSections}`,
  ignore: sectionsTsv === null,
  fn() {
    const tsv = new Map<string, string>();
    for (const line of sectionsTsv!.split("\n").slice(1)) {
      const [number, title] = line.split("\t");
      if (number) tsv.set(number, title);
    }
    // SECTIONS.tsv misses the legacy subsection 2.7.8.1, so its 2.7.8.1 and
    // 2.7.8.2 are our (the published spec's) 2.7.8.2 and 2.7.8.3.
    const shifted: Record<string, string> = { "2.7.8.2": "2.7.8.1", "2.7.8.3": "2.7.8.2" };
    // SECTIONS.tsv misses one paragraph of §2.8: the driver requirements under
    // its implementation example (a drivernormative paragraph in packed-ring.tex).
    tsv.set("2.8.21.3.1", "Driver Requirements: Sending Available Buffer Notifications");
    for (const [section, title] of Object.entries(SECTION_TITLES)) {
      const key = shifted[section] ?? section;
      assert.equal(title, tsv.get(key), `title of ${section} (SECTIONS.tsv ${key})`);
    }
  },
});

Deno.test("every summary is one non-empty line, a sentence under 160 characters", () => {
  for (const r of ALL) {
    assert.ok(r.summary.trim() !== "", `${r.id} has an empty summary`);
    assert.equal(r.summary, r.summary.trim(), `${r.id} summary has stray whitespace`);
    assert.ok(!/[\r\n]/.test(r.summary), `${r.id} summary spans lines`);
    assert.match(r.summary, /^[A-Z"(a-z]/, `${r.id} summary start`);
    assert.match(r.summary, /[.)]$/, `${r.id} summary should end with a full stop`);
    assert.ok(r.summary.length <= 160, `${r.id} summary is ${r.summary.length} characters`);
  }
});

Deno.test("SHOULD and MAY summaries say should and may", () => {
  for (const r of NORMATIVE_REQUIREMENTS) {
    if (r.level === "SHOULD") assert.match(r.summary, /\bshould\b/i, r.id);
    if (r.level === "MAY") assert.match(r.summary, /\bmay\b/i, r.id);
  }
});

Deno.test({
  name:
    `no summary copies its spec sentence (no shared run of 8 words, not a near copy)${skipNoTsv}`,
  ignore: requirementsTsv === null,
  fn() {
    const text = new Map(TSV_ROWS.map((t) => [t.id, t.text]));
    for (const r of NORMATIVE_REQUIREMENTS) {
      const spec = text.get(r.id);
      assert.ok(spec !== undefined, `${r.id} missing from REQUIREMENTS.tsv`);
      const specRuns = ngrams(words(spec), 8);
      for (const run of ngrams(words(r.summary), 8)) {
        assert.ok(!specRuns.has(run), `${r.id} summary shares "${run}" with the spec`);
      }
      const ratio = nearCopyRatio(r.summary, spec);
      assert.ok(ratio >= 0.25, `${r.id} summary nearly equals the spec text (distance ${ratio})`);
    }
  },
});

Deno.test("the copy check itself catches a copied or lightly edited sentence", () => {
  const spec = "The driver MUST NOT accept a feature which the device did not offer.";
  const copied = "the driver must not accept a feature which the device did not offer";
  assert.ok([...ngrams(words(copied), 8)].some((run) => ngrams(words(spec), 8).has(run)));
  const edited = "A driver must never accept features that the device did not offer.";
  assert.ok(nearCopyRatio(edited, spec) < 0.25);
  const own = "The driver accepts only features the device offered.";
  assert.ok(nearCopyRatio(own, spec) >= 0.25);
});

Deno.test("derived rules are numbered D1, D2... per section, in section order, each binding one side", () => {
  assert.ok(DERIVED_RULES.length >= 20, "the project's derived rules are in the table");
  const perSection = new Map<string, number>();
  for (let i = 0; i < DERIVED_RULES.length; i++) {
    const r = DERIVED_RULES[i];
    const n = (perSection.get(r.section) ?? 0) + 1;
    perSection.set(r.section, n);
    assert.equal(r.id, `${r.section}/D${n}`, `${r.id} is the ${n}th derived rule of §${r.section}`);
    assert.ok(r.role === "driver" || r.role === "device", `${r.id} binds one side`);
    assert.equal(r.level, "derived");
    if (i > 0) {
      assert.ok(compareSections(DERIVED_RULES[i - 1].section, r.section) <= 0, `${r.id} in order`);
    }
  }
});

Deno.test("findRequirement returns the table entry for normative and derived ids", () => {
  for (const r of ALL) assert.equal(findRequirement(r.id), r);
});

Deno.test("findRequirement returns undefined for unknown or misspelled ids", () => {
  const derived = DERIVED_RULES[0].id;
  const normative = NORMATIVE_REQUIREMENTS[0].id;
  for (
    const id of [
      "",
      "9.9.9/1",
      derived.toLowerCase(),
      ` ${normative}`,
      `${normative} `,
      normative.replace("/", "."),
      normative.split("/")[0],
      `${normative}0`,
    ]
  ) {
    assert.equal(findRequirement(id), undefined, JSON.stringify(id));
  }
});

Deno.test("requirement returns the entry and throws RangeError naming an unknown id", () => {
  for (const r of ALL) assert.equal(requirement(r.id), r);
  assert.throws(
    () => requirement("9.9.9/1"),
    (e: unknown) => e instanceof RangeError && e.message.includes('"9.9.9/1"'),
  );
  assert.throws(() => requirement(""), RangeError);
});

Deno.test("requirement levels and roles are spread as the spec has them", () => {
  // A cheap guard against a shifted column: both sides and all levels occur.
  const levels = new Set(NORMATIVE_REQUIREMENTS.map((r) => r.level));
  assert.deepEqual([...levels].sort(), ["MAY", "MUST", "SHOULD"]);
  const roles = new Set(ALL.map((r) => r.role));
  assert.deepEqual([...roles].sort(), ["device", "driver"]);
  // Device requirement sections say "Device Requirements", driver ones "Driver Requirements".
  for (const r of NORMATIVE_REQUIREMENTS) {
    const title = r.sectionTitle;
    if (title.startsWith("Device Requirements")) assert.equal(r.role, "device", r.id);
    if (title.startsWith("Driver Requirements")) assert.equal(r.role, "driver", r.id);
  }
});
