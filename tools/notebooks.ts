/**
 * Generates `notebooks/NN-slug.ipynb` from each lesson's `lesson.md`, or
 * checks that every notebook is current.
 *
 * ```sh
 * deno task notebooks            # write the notebooks
 * deno task notebooks --check    # exit 1 when one is missing, stale or extra
 * deno run -R -W tools/notebooks.ts --course tests/fixtures/course
 * ```
 *
 * @module
 */

import * as path from "node:path";
import { loadCourse } from "../course/manifest.ts";
import { syncNotebooks } from "../course/notebooks.ts";
import { defaultCourseRoot } from "../course/paths.ts";
import { CourseError } from "../course/errors.ts";

/**
 * Runs the tool.
 *
 * @param args `--check`, `--course <root>`.
 * @returns The exit status.
 */
export function main(args: string[]): number {
  const check = args.includes("--check");
  const courseIndex = args.indexOf("--course");
  const root = courseIndex >= 0 ? path.resolve(args[courseIndex + 1] ?? ".") : defaultCourseRoot();
  let course;
  try {
    course = loadCourse(root);
  } catch (error) {
    if (error instanceof CourseError) {
      console.error(`notebooks: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const result = syncNotebooks(course, { check });
  const rel = (file: string) => path.relative(Deno.cwd(), file) || file;
  if (check) {
    for (const file of result.stale) {
      console.error(`notebooks: ${rel(file)} is missing or out of date: run deno task notebooks`);
    }
    for (const file of result.extra) {
      console.error(
        `notebooks: ${
          rel(file)
        } is not generated from any lesson in lessons/manifest.json: delete it`,
      );
    }
    if (result.stale.length || result.extra.length) return 1;
    console.log(`notebooks: all ${result.current.length} notebook(s) are current`);
    return 0;
  }
  for (const file of result.stale) console.log(`notebooks: wrote ${rel(file)}`);
  for (const file of result.extra) {
    console.error(`notebooks: warning: ${rel(file)} is not generated from any lesson: delete it`);
  }
  console.log(
    `notebooks: ${result.stale.length} written, ${result.current.length} already current`,
  );
  return 0;
}

if (import.meta.main) {
  Deno.exit(main(Deno.args));
}
