import assert from "node:assert/strict";
import * as path from "node:path";
import {
  generateNotebook,
  lessonTextForReading,
  splitLesson,
  syncNotebooks,
} from "../../course/notebooks.ts";
import { loadCourse } from "../../course/manifest.ts";
import { FIXTURE_ROOT, fixtureCourse, removeDir } from "./helpers.ts";

Deno.test("splitLesson: ```ts cell blocks become code, other fences stay in the text", () => {
  const md =
    "# T\n\nText.\n\n```ts cell\nconst a = 1;\na;\n```\n\nMore.\n\n```ts\nconst plain = 1;\n```\n\n````md\n```ts cell\nnot a cell\n```\n````\n";
  assert.deepEqual(splitLesson(md), [
    { kind: "markdown", text: "# T\n\nText." },
    { kind: "code", text: "const a = 1;\na;" },
    {
      kind: "markdown",
      text: "More.\n\n```ts\nconst plain = 1;\n```\n\n````md\n```ts cell\nnot a cell\n```\n````",
    },
  ]);
  assert.equal(lessonTextForReading("```ts cell\nx\n```"), "```ts\nx\n```");
});

Deno.test("generateNotebook: nbformat 4.5, Deno kernel, setup and grading cells, deterministic", () => {
  const course = fixtureCourse();
  const text = generateNotebook(course, course.lessons[0]);
  assert.equal(text, generateNotebook(course, course.lessons[0]));
  const nb = JSON.parse(text);
  assert.equal(nb.nbformat, 4);
  assert.equal(nb.nbformat_minor, 5);
  assert.equal(nb.metadata.kernelspec.name, "deno");
  assert.equal(nb.metadata.language_info.name, "typescript");
  const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
  assert.match(
    code[0].source.join(""),
    /import \{ gradeLesson, hint, labMachine, loadExercise, showLesson \} from "\.\.\/\.\.\/\.\.\/\.\.\/course\/notebook_support\.ts";\nconst LESSON = "feature-words";/,
  );
  assert.equal(code.at(-1).source.join(""), "await gradeLesson(LESSON);");
  for (const cell of code) {
    assert.equal(cell.execution_count, null);
    assert.deepEqual(cell.outputs, []);
  }
  assert.deepEqual(new Set(nb.cells.map((c: { id: string }) => c.id)).size, nb.cells.length);
  // The text is written once: every markdown paragraph of lesson.md is in the notebook.
  assert.ok(text.includes("A virtio device offers up to 64 feature bits"));
  assert.ok(text.includes("const low = Number(word & 0xffff_ffffn);"));
});

Deno.test("syncNotebooks --check reports stale and extra notebooks and writes nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "virtio-lab-course-" });
  try {
    await Deno.mkdir(path.join(root, "lessons"));
    for (const dir of ["01-feature-words", "02-status-names"]) {
      await Deno.mkdir(path.join(root, "lessons", dir));
      for await (const e of Deno.readDir(path.join(FIXTURE_ROOT, "lessons", dir))) {
        await Deno.copyFile(
          path.join(FIXTURE_ROOT, "lessons", dir, e.name),
          path.join(root, "lessons", dir, e.name),
        );
      }
    }
    await Deno.copyFile(
      path.join(FIXTURE_ROOT, "lessons", "manifest.json"),
      path.join(root, "lessons", "manifest.json"),
    );
    const course = loadCourse(root);
    const before = syncNotebooks(course, { check: true });
    assert.equal(before.stale.length, 2);
    assert.throws(() => Deno.statSync(path.join(root, "notebooks")));
    syncNotebooks(course);
    assert.equal(syncNotebooks(course, { check: true }).current.length, 2);
    Deno.writeTextFileSync(
      path.join(root, "lessons", "02-status-names", "lesson.md"),
      "# Changed\n",
    );
    Deno.writeTextFileSync(path.join(root, "notebooks", "99-old.ipynb"), "{}");
    const after = syncNotebooks(course, { check: true });
    assert.deepEqual(after.stale.map((f) => path.basename(f)), ["02-status-names.ipynb"]);
    assert.deepEqual(after.extra.map((f) => path.basename(f)), ["99-old.ipynb"]);
  } finally {
    await removeDir(root);
  }
});
