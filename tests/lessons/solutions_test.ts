/**
 * Author checks of every lesson's grader, like rustlings' `dev check` and
 * nbgrader's `validate --invert`: the grader passes independent correct
 * solutions written in different styles, and fails each wrong solution with
 * the check and the requirement id its header names.
 *
 * Layout, per lesson:
 *
 * ```text
 * tests/lessons/<NN-slug>/correct/<style>.ts   // Correct: <the style>
 * tests/lessons/<NN-slug>/wrong/<bug>.ts       // Mistake: <the mistake>
 *                                              // Source: <where it happened, or "none">
 *                                              // Must fail: "<check name>" [<requirement id>]
 * ```
 *
 * A solution is a whole exercise module (a wrong one may re-export the
 * functions it does not get wrong from a correct one). Each is graded in its
 * own test, in-process, with nothing shared between tests. Also here: every
 * solution type-checks against its lesson's stub (the compile stage a
 * learner's file goes through), no grader is over 400 lines, and grading the
 * reference boots the lab machine at most twice.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { defaultCourseRoot, fileUrl } from "../../course/paths.ts";
import { type Lesson, loadCourse } from "../../course/manifest.ts";
import { type CheckResult, gradeInProcess, type Grader } from "../../course/grader.ts";
import { machineBoots } from "../../lessons/kit/machine.ts";
import { REPO, runCommand } from "../course/helpers.ts";

const course = loadCourse(defaultCourseRoot());
const HERE = path.join(REPO, "tests", "lessons");
const MIN_WRONG = 15;
const MIN_CORRECT = 2;
const MAX_GRADER_LINES = 400;
const MAX_BOOTS = 2;

interface Solution {
  readonly file: string;
  readonly name: string;
  readonly header: string;
}

function solutions(lesson: Lesson, kind: "correct" | "wrong"): Solution[] {
  const dir = path.join(HERE, lesson.dir, kind);
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".ts"))
      .map((e) => e.name).sort();
  } catch {
    names = [];
  }
  return names.map((name) => {
    const file = path.join(dir, name);
    const text = Deno.readTextFileSync(file);
    const header = text.slice(0, text.search(/^(import|export)\b/m));
    return { file, name: `${kind}/${name}`, header };
  });
}

/** The check and id a wrong solution must fail, from its `// Must fail:` line. */
function mustFail(s: Solution): { check: string; requirement: string } {
  const m = /^\/\/ Must fail: (".*") \[([^\]\s]+)\]\s*$/m.exec(s.header);
  assert.ok(
    m,
    `${s.name}: the header needs a line // Must fail: "<check name>" [<requirement id>]`,
  );
  return { check: JSON.parse(m[1]) as string, requirement: m[2] };
}

async function grade(lesson: Lesson, file: string): Promise<CheckResult[]> {
  const { grader } = await import(fileUrl(lesson.paths.grader)) as { grader: Grader<unknown> };
  return await gradeInProcess(grader, import(fileUrl(file)));
}

const summary = (results: readonly CheckResult[]) =>
  results.filter((r) => r.status === "failed").map((r) => `- ${r.name} [${r.requirement}]`)
    .join("\n") || "(no check failed)";

for (const lesson of course.lessons) {
  const label = `lesson ${lesson.number} (${lesson.id})`;
  const correct = solutions(lesson, "correct");
  const wrong = solutions(lesson, "wrong");

  Deno.test(`${label}: has at least ${MIN_CORRECT} correct and ${MIN_WRONG} wrong solutions`, () => {
    assert.ok(
      correct.length >= MIN_CORRECT,
      `tests/lessons/${lesson.dir}/correct/ holds ${correct.length}`,
    );
    assert.ok(
      wrong.length >= MIN_WRONG,
      `tests/lessons/${lesson.dir}/wrong/ holds ${wrong.length}`,
    );
  });

  for (const s of correct) {
    Deno.test(`${label}: ${s.name} passes`, async () => {
      assert.match(
        s.header,
        /^\/\/ Correct: \S/m,
        `${s.name}: the header says // Correct: <style>`,
      );
      const results = await grade(lesson, s.file);
      const failed = results.filter((r) => r.status === "failed");
      assert.deepEqual(failed.map((r) => `${r.name}:\n${r.message}`), [], `${s.name} must pass`);
    });
  }

  for (const s of wrong) {
    const expected = mustFail(s);
    Deno.test(`${label}: ${s.name} fails "${expected.check}" [${expected.requirement}]`, async () => {
      assert.match(s.header, /^\/\/ Mistake: \S/m, `${s.name}: the header says // Mistake: ...`);
      assert.match(s.header, /^\/\/ Source: \S/m, `${s.name}: the header says // Source: ...`);
      const results = await grade(lesson, s.file);
      const result = results.find((r) => r.name === expected.check);
      assert.ok(result, `${s.name}: the grader has no check named "${expected.check}"`);
      assert.equal(
        result.status,
        "failed",
        `${s.name} must fail "${expected.check}"; it failed:\n${summary(results)}`,
      );
      assert.equal(
        result.requirement,
        expected.requirement,
        `${s.name}: "${expected.check}" failed citing ${result.requirement}, not ${expected.requirement}:\n${result.message}`,
      );
      const unwritten = results.find((r) => /is not written yet/.test(r.message));
      assert.equal(
        unwritten,
        undefined,
        `${s.name} is realistic code, not a stub: ${unwritten?.message}`,
      );
    });
  }

  Deno.test(`${label}: the grader is at most ${MAX_GRADER_LINES} lines`, () => {
    const lines = Deno.readTextFileSync(lesson.paths.grader).split("\n").length - 1;
    assert.ok(lines <= MAX_GRADER_LINES, `lessons/${lesson.dir}/grader.ts has ${lines} lines`);
  });

  Deno.test(`${label}: grading the reference boots the lab machine at most ${MAX_BOOTS} times`, async () => {
    const before = machineBoots();
    const results = await grade(lesson, lesson.paths.reference);
    assert.deepEqual(results.filter((r) => r.status === "failed").map((r) => r.name), []);
    const boots = machineBoots() - before;
    assert.ok(boots >= 1 && boots <= MAX_BOOTS, `the grader booted the machine ${boots} times`);
  });
}

Deno.test("every solution type-checks against its lesson's stub, and so do the graders", async () => {
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-solutions-" });
  try {
    // The graders and the kit are loaded with dynamic imports elsewhere, which are not type-checked.
    const lines = [`import "${fileUrl(path.join(REPO, "lessons", "kit", "mod.ts"))}";`];
    course.lessons.forEach((lesson, i) => {
      lines.push(`import "${fileUrl(lesson.paths.grader)}";`);
      lines.push(`import type * as Stub${i} from "${fileUrl(lesson.paths.exercise)}";`);
      [...solutions(lesson, "correct"), ...solutions(lesson, "wrong")].forEach((s, j) => {
        lines.push(`import * as S${i}_${j} from "${fileUrl(s.file)}";`);
        lines.push(`export const matches${i}_${j}: typeof Stub${i} = S${i}_${j};`);
      });
    });
    const file = path.join(dir, "check.ts");
    Deno.writeTextFileSync(file, lines.join("\n") + "\n");
    const r = await runCommand(Deno.execPath(), [
      "check",
      "--quiet",
      "--config",
      path.join(REPO, "deno.json"),
      file,
    ], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `deno check of the solutions failed:\n${r.stderr}${r.stdout}`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
