/**
 * `lab show` is read in a terminal, where no cell runs: every notebook cell
 * of a lesson that produces output is followed by a ` ```text output ` block
 * holding exactly that output, and no cell without output has one. The cells
 * run in one Deno process per lesson, against the pristine stubs
 * (`tests/lessons/cell_outputs.ts`; `--write` records the outputs after an
 * edit).
 */

import assert from "node:assert/strict";
import { defaultCourseRoot } from "../../course/paths.ts";
import { loadCourse } from "../../course/manifest.ts";
import { displayedExpression, lessonCells, runCells, withOutputs } from "./cell_outputs.ts";

const course = loadCourse(defaultCourseRoot());

Deno.test("a cell's displayed expression is its last statement, when that is an expression", () => {
  assert.deepEqual(displayedExpression("const a = 1;\na + 1;"), {
    before: "const a = 1;",
    shown: "a + 1",
  });
  assert.equal(displayedExpression("const a = 1;").shown, null);
  assert.equal(
    displayedExpression("f(\n  1,\n);\nawait g({\n  x: 1,\n}); // note").shown,
    "await g({\n  x: 1,\n})",
  );
  assert.equal(displayedExpression("for (const x of y) {\n  f(x);\n}").shown, null);
  assert.equal(
    displayedExpression('const u = new URL("../m.ts", `file://${d}/`).href;\nawait run(u);').shown,
    "await run(u)",
  );
});

Deno.test("output blocks are parsed, inserted and replaced", () => {
  const md =
    "Text.\n\n```ts cell\n1;\n```\n\n```text output\nold\n```\n\nMore.\n\n```ts cell\nlet x;\n```\n\nEnd.";
  const cells = lessonCells(md);
  assert.deepEqual(cells.map((c) => [c.code, c.recorded]), [["1;", "old"], ["let x;", null]]);
  assert.equal(
    withOutputs(md, ["new", "made"]),
    "Text.\n\n```ts cell\n1;\n```\n\n```text output\nnew\n```\n\nMore.\n\n```ts cell\nlet x;\n```\n\n```text output\nmade\n```\n\nEnd.",
  );
  assert.equal(
    withOutputs(md, ["", ""]),
    "Text.\n\n```ts cell\n1;\n```\n\nMore.\n\n```ts cell\nlet x;\n```\n\nEnd.",
  );
});

for (const lesson of course.lessons) {
  Deno.test(`lesson ${lesson.number} (${lesson.id}): every cell's output is recorded after it`, async () => {
    const cells = lessonCells(Deno.readTextFileSync(lesson.paths.text));
    const outputs = await runCells(lesson, course.notebooksDir);
    for (const cell of cells) {
      const actual = outputs[cell.index];
      const where = `lessons/${lesson.dir}/lesson.md, cell ${cell.index + 1} (${
        cell.code.split("\n")[0]
      })`;
      if (actual === "") {
        assert.equal(
          cell.recorded,
          null,
          `${where} shows nothing, but a text output block follows it`,
        );
        continue;
      }
      assert.notEqual(
        cell.recorded,
        null,
        `${where} shows output that a terminal reader cannot see: record it with deno run -A tests/lessons/cell_outputs.ts --write ${lesson.dir}`,
      );
      assert.equal(
        cell.recorded,
        actual,
        `${where}: the recorded output is stale (--write records it again)`,
      );
    }
  });
}
