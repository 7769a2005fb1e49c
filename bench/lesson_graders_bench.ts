/**
 * In-process grading of every lesson on its reference, the part of
 * `lab check N` that is the grader's own (the rest is the engine's: starting
 * the sandboxed process, type-checking the exercise). The baseline is one
 * boot of the lab machine, the most expensive step a grader takes (a lesson
 * takes at most two), so `deno bench` prints how many boots each grader
 * costs, measured in the same run. The budget is well under 0.5 s per lesson.
 *
 * Each iteration grades a fresh copy of the reference module, so nothing the
 * learner's side computed is reused; the reference's own results for pure
 * parts are memoized once per process and stay warm across iterations (a
 * first grading in a fresh process, as `lab check` runs, computes them once
 * more).
 *
 * Run: deno bench --allow-read bench/lesson_graders_bench.ts
 *
 * @module
 */

import { createMachine } from "../machine.ts";
import { gradeInProcess, type Grader } from "../course/grader.ts";
import { defaultCourseRoot, fileUrl } from "../course/paths.ts";
import { loadCourse } from "../course/manifest.ts";

const course = loadCourse(defaultCourseRoot());
const lessons = await Promise.all(course.lessons.map(async (lesson) => ({
  lesson,
  grader: (await import(fileUrl(lesson.paths.grader)) as { grader: Grader<unknown> }).grader,
  reference: await import(fileUrl(lesson.paths.reference)),
})));

Deno.bench({
  name: "boot and close the lab machine (baseline)",
  group: "lesson graders",
  baseline: true,
  async fn() {
    const machine = await createMachine({ strict: true });
    await machine.close();
  },
});

for (const { lesson, grader, reference } of lessons) {
  Deno.bench({
    name: `grade lesson ${lesson.number} (${lesson.id}) on its reference`,
    group: "lesson graders",
    async fn() {
      const results = await gradeInProcess(grader, { ...reference });
      const failed = results.filter((r) => r.status === "failed");
      if (failed.length > 0) throw new Error(`the reference fails ${failed[0].name}`);
    },
  });
}
