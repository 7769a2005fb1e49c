/**
 * The three-way grading of every real lesson (lessons/manifest.json):
 *
 * - the grader fails the pristine stub, and every failure names a requirement
 *   id and a hint (a stub must teach, not just fail);
 * - the grader passes the reference (the library bound to the stub's names);
 * - the lesson's files agree with each other (exports, hints, requirements,
 *   solution symbols).
 *
 * The learner's own work is graded the third way, out of process, by `lab check`.
 */

import assert from "node:assert/strict";
import { defaultCourseRoot, fileUrl } from "../../course/paths.ts";
import { type Course, type Lesson, loadCourse } from "../../course/manifest.ts";
import { gradeInProcess, type Grader } from "../../course/grader.ts";
import { extractSolution } from "../../course/solution.ts";

// VIRTIO_LAB_COURSE can point this at another course (the engine checks itself on its fixture).
const course: Course = loadCourse(defaultCourseRoot());

Deno.test("the course lists its lessons (lessons/manifest.json is not empty)", () => {
  assert.ok(
    course.lessons.length > 0,
    "lessons/manifest.json lists no lessons: the first lessons are expected there (see lessons/README.md)",
  );
});

async function load(
  lesson: Lesson,
): Promise<
  { grader: Grader<unknown>; stub: Record<string, unknown>; reference: Record<string, unknown> }
> {
  const graderModule = await import(fileUrl(lesson.paths.grader)) as { grader?: Grader<unknown> };
  assert.ok(
    graderModule.grader,
    `lessons/${lesson.dir}/grader.ts must export "grader" (defineGrader(...))`,
  );
  return {
    grader: graderModule.grader,
    stub: await import(fileUrl(lesson.paths.exercise)),
    reference: await import(fileUrl(lesson.paths.reference)),
  };
}

for (const lesson of course.lessons) {
  const label = `lesson ${lesson.number} (${lesson.id})`;

  Deno.test(`${label}: the grader fails the pristine stub with messages that teach`, async () => {
    const { grader, stub } = await load(lesson);
    const results = await gradeInProcess(grader, stub);
    const failed = results.filter((r) => r.status === "failed");
    assert.ok(
      failed.length >= 1,
      `the stub of ${label} passes every check: the grader checks nothing the stub lacks`,
    );
    for (const r of failed) {
      assert.match(r.message, /^observed: /m, `${r.name}: says what was observed`);
      assert.match(
        r.message,
        /^the spec requires: .+\(§[\d.]+, requirement [\d.]+\/D?\d+\)$/m,
        `${r.name}: cites a requirement`,
      );
      assert.match(
        r.message,
        /^read hint \d+: deno task lab hint \d+ \d+$/m,
        `${r.name}: points at a hint`,
      );
      assert.ok(
        r.hint >= 1 && r.hint <= lesson.hints.length,
        `${r.name}: hint ${r.hint} exists in hints.md`,
      );
    }
  });

  Deno.test(`${label}: the grader passes the reference`, async () => {
    const { grader, reference } = await load(lesson);
    const results = await gradeInProcess(grader, reference);
    const failed = results.filter((r) => r.status === "failed");
    assert.deepEqual(
      failed.map((r) => `${r.name}:\n${r.message}`),
      [],
      `the reference of ${label} fails checks`,
    );
  });

  Deno.test(`${label}: exports, hints, requirements and solution agree`, async () => {
    const { grader, stub, reference } = await load(lesson);
    assert.equal(grader.lesson, lesson.id, "defineGrader({ lesson }) is the manifest id");
    for (const name of lesson.exports) {
      assert.ok(name in stub, `exercise.ts exports ${name}`);
      assert.ok(name in reference, `reference.ts exports ${name}`);
    }
    for (const check of grader.checks) {
      assert.ok(
        check.hint <= lesson.hints.length,
        `check "${check.name}" points at hint ${check.hint} of ${lesson.hints.length}`,
      );
    }
    const cited = new Set<string>(grader.checks.map((c) => c.requirement));
    for (const id of lesson.requirements) {
      assert.ok(cited.has(id), `lesson.json teaches ${id} but no check of grader.ts enforces it`);
    }
    const parts = extractSolution(course, lesson);
    assert.ok(parts.length >= 1 && parts.every((p) => p.text.length > 0));
  });
}
