import assert from "node:assert/strict";
import * as path from "node:path";
import {
  copyNotebookToWorkspace,
  generateNotebook,
  lessonTextForReading,
  relocateNotebook,
  splitLesson,
  syncNotebooks,
} from "../../course/notebooks.ts";
import { loadCourse } from "../../course/manifest.ts";
import { FIXTURE_ROOT, fixtureCourse, removeDir, tempWorkspace } from "./helpers.ts";

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

Deno.test("copyNotebookToWorkspace: a copy next to the exercise, imports rewritten, made once", async () => {
  const course = fixtureCourse();
  const workspace = await tempWorkspace(course);
  const lesson = course.lessons[0];
  try {
    const first = await copyNotebookToWorkspace(course, workspace, lesson);
    assert.deepEqual(first, {
      file: path.join(workspace.lessonDir(lesson), path.basename(lesson.paths.notebook)),
      created: true,
      courseChanged: false,
    });
    const copy = JSON.parse(Deno.readTextFileSync(first.file));
    const original = JSON.parse(Deno.readTextFileSync(lesson.paths.notebook));
    assert.equal(copy.cells.length, original.cells.length);
    assert.equal(
      copy.metadata.virtio_lab.copied_from,
      `notebooks/${path.basename(lesson.paths.notebook)}`,
    );
    assert.match(copy.metadata.virtio_lab.copied_from_sha256, /^[0-9a-f]{64}$/);
    // Every relative import of the copy names the module the course's notebook named.
    const imports = (nb: { cells: { cell_type: string; source: string[] }[] }, dir: string) =>
      nb.cells.filter((c) => c.cell_type === "code").flatMap((c) =>
        [...c.source.join("").matchAll(/from "(\.\.?\/[^"]+)"/g)].map((m) =>
          path.resolve(dir, m[1])
        )
      );
    const named = imports(original, course.notebooksDir);
    assert.ok(named.length > 0, "the setup cell imports the notebook helpers");
    assert.deepEqual(imports(copy, path.dirname(first.file)), named);
    // Made once: the learner's edits survive, and a changed course notebook is only reported.
    Deno.writeTextFileSync(
      first.file,
      Deno.readTextFileSync(first.file).replace('"cells"', '"cells" '),
    );
    const mine = Deno.readTextFileSync(first.file);
    const again = await copyNotebookToWorkspace(course, workspace, lesson);
    assert.deepEqual(again, { file: first.file, created: false, courseChanged: false });
    assert.equal(Deno.readTextFileSync(first.file), mine);
    copy.metadata.virtio_lab.copied_from_sha256 = "0".repeat(64);
    Deno.writeTextFileSync(first.file, JSON.stringify(copy));
    assert.equal((await copyNotebookToWorkspace(course, workspace, lesson)).courseChanged, true);
  } finally {
    await removeDir(workspace.dir);
  }
});

Deno.test("relocateNotebook rewrites only relative specifiers of code cells", () => {
  const nb = {
    cells: [
      { cell_type: "markdown", source: ['see "../machine.ts"'] },
      {
        cell_type: "code",
        source: [
          'import { a } from "../machine.ts";\n',
          'const m = await import("./x.ts");\n',
          'import "npm:chalk";\n',
        ],
      },
    ],
  };
  const moved = relocateNotebook(nb, "/r/notebooks", "/w/01-x");
  assert.deepEqual(moved.cells[0], nb.cells[0]);
  assert.deepEqual(moved.cells[1].source, [
    'import { a } from "../../r/machine.ts";\n',
    'const m = await import("../../r/notebooks/x.ts");\n',
    'import "npm:chalk";\n',
  ]);
});
