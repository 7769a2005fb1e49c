import assert from "node:assert/strict";
import * as path from "node:path";
import { loadCourse } from "../../course/manifest.ts";
import { hashText, rewriteImports, Workspace } from "../../course/workspace.ts";
import {
  FIXTURE_ROOT,
  fixtureCourse,
  removeDir,
  REPO,
  runCommand,
  tempWorkspace,
  useVariant,
} from "./helpers.ts";

Deno.test("a workspace is created on first use from the stubs, with generated test files", async () => {
  const ws = await tempWorkspace();
  try {
    const [lesson] = ws.course.lessons;
    const exercise = Deno.readTextFileSync(ws.exerciseFile(lesson));
    assert.match(exercise, /export function featureWord/);
    // The stub's relative import still resolves from the workspace.
    const spec = /from "([^"]+stub\.ts)"/.exec(exercise)![1];
    assert.equal(path.resolve(ws.lessonDir(lesson), spec), path.join(REPO, "course", "stub.ts"));
    const test = Deno.readTextFileSync(ws.testFile(lesson));
    assert.match(test, /registerGrader\(grader, import\("\.\/exercise\.ts"\)\)/);
    assert.ok(Deno.statSync(path.join(ws.dir, "README.md")).isFile);
    assert.ok(Deno.statSync(ws.signatureFile(lesson)).isFile);
    const state = JSON.parse(Deno.readTextFileSync(ws.stateFile));
    assert.equal(state.version, 1);
    assert.equal(state.lessons["feature-words"].stubHash, await hashText(exercise));
  } finally {
    await removeDir(ws.dir);
  }
});

Deno.test("rewriteImports keeps library paths between same-depth folders, and relocates otherwise", () => {
  const src =
    `import { a } from "../../course/stub.ts";\nexport { b } from './x.ts';\nconst m = await import("../../memory/guest_memory.ts");\nimport "npm:thing";\n`;
  assert.equal(
    rewriteImports(src, "/repo/lessons/01-x", "/repo/workspace/01-x"),
    src.replace("'./x.ts'", "'../../lessons/01-x/x.ts'"),
    "paths out of the lesson folder are unchanged; a lesson-local helper still points into the course",
  );
  const moved = rewriteImports(src, "/repo/lessons/01-x", "/tmp/ws/01-x");
  assert.match(moved, /from "\.\.\/\.\.\/\.\.\/repo\/course\/stub\.ts"/);
  assert.match(moved, /from '\.\.\/\.\.\/\.\.\/repo\/lessons\/01-x\/x\.ts'/);
  assert.match(moved, /import\("\.\.\/\.\.\/\.\.\/repo\/memory\/guest_memory\.ts"\)/);
  assert.match(moved, /import "npm:thing"/);
});

Deno.test("syncing never overwrites an edited exercise, but follows the course for an untouched one", async () => {
  const root = await Deno.makeTempDir({ prefix: "virtio-lab-course-" });
  const wsDir = await Deno.makeTempDir({ prefix: "virtio-lab-test-ws-" });
  try {
    await copyDir(path.join(FIXTURE_ROOT, "lessons"), path.join(root, "lessons"));
    // Keep the stubs' library imports resolving from the copied course.
    for (const dir of ["01-feature-words", "02-status-names"]) {
      for (const name of ["exercise.ts", "reference.ts", "grader.ts"]) {
        const file = path.join(root, "lessons", dir, name);
        Deno.writeTextFileSync(
          file,
          rewriteImports(
            Deno.readTextFileSync(file),
            path.join(FIXTURE_ROOT, "lessons", dir),
            path.dirname(file),
          ),
        );
      }
    }
    const ws = await Workspace.open(loadCourse(root), wsDir);
    const [one, two] = ws.course.lessons;
    Deno.writeTextFileSync(ws.exerciseFile(one), "// my own work\nexport const x = 1;\n");
    // The course updates both stubs.
    for (const lesson of [one, two]) {
      Deno.writeTextFileSync(
        lesson.paths.exercise,
        Deno.readTextFileSync(lesson.paths.exercise) + "\n// v2\n",
      );
    }
    const again = new Workspace(loadCourse(root), wsDir);
    const sync = await again.sync();
    assert.equal(
      Deno.readTextFileSync(again.exerciseFile(one)),
      "// my own work\nexport const x = 1;\n",
    );
    assert.match(Deno.readTextFileSync(again.exerciseFile(two)), /\/\/ v2/);
    assert.deepEqual(sync.updated, [again.exerciseFile(two)]);
    assert.deepEqual(sync.stubChanged.map((l) => l.id), ["feature-words"]);
  } finally {
    await removeDir(root);
    await removeDir(wsDir);
  }
});

Deno.test("lessons added to the course later appear in an existing workspace", async () => {
  const root = await Deno.makeTempDir({ prefix: "virtio-lab-course-" });
  const wsDir = await Deno.makeTempDir({ prefix: "virtio-lab-test-ws-" });
  try {
    await copyDir(path.join(FIXTURE_ROOT, "lessons"), path.join(root, "lessons"));
    const manifestFile = path.join(root, "lessons", "manifest.json");
    const manifest = JSON.parse(Deno.readTextFileSync(manifestFile));
    Deno.writeTextFileSync(
      manifestFile,
      JSON.stringify({ ...manifest, lessons: manifest.lessons.slice(0, 1) }),
    );
    const ws = await Workspace.open(loadCourse(root), wsDir);
    Deno.writeTextFileSync(ws.exerciseFile(ws.course.lessons[0]), "// mine\n");
    ws.update(ws.course.lessons[0], { hintsSeen: 2 });
    Deno.writeTextFileSync(manifestFile, JSON.stringify(manifest));
    const later = await Workspace.open(loadCourse(root), wsDir);
    assert.equal(Deno.readTextFileSync(later.exerciseFile(later.course.lessons[0])), "// mine\n");
    assert.match(
      Deno.readTextFileSync(later.exerciseFile(later.course.lessons[1])),
      /formatStatus/,
    );
    assert.equal(later.progress(later.course.lessons[0]).hintsSeen, 2);
  } finally {
    await removeDir(root);
    await removeDir(wsDir);
  }
});

Deno.test("reset restores the stub and keeps a backup of what it overwrote", async () => {
  const ws = await tempWorkspace();
  try {
    const [one, two] = ws.course.lessons;
    useVariant(ws, one, "correct");
    const mine = Deno.readTextFileSync(ws.exerciseFile(one));
    ws.recordGrade(one, completePass(5));
    ws.recordHint(one, 2);
    const result = await ws.reset([one, two]);
    assert.equal(Deno.readTextFileSync(ws.exerciseFile(one)), ws.stubText(one));
    assert.ok(result.backupDir);
    assert.equal(Deno.readTextFileSync(path.join(result.backupDir!, one.dir, "exercise.ts")), mine);
    assert.throws(
      () => Deno.statSync(path.join(result.backupDir!, two.dir)),
      "an untouched stub needs no backup",
    );
    assert.deepEqual(Object.keys(ws.progress(one)).sort(), ["hintsSeen", "stubHash"]);
    const nothing = await ws.reset([two]);
    assert.equal(nothing.backupDir, null);
  } finally {
    await removeDir(ws.dir);
  }
});

/** The fields of a report in which every one of `n` checks ran and passed. */
function completePass(n: number) {
  const tests = Array.from({ length: n }, (_, i) => ({
    name: `check ${i}`,
    status: "passed" as const,
    run: "finished" as const,
    message: "",
    requirement: null,
    section: null,
    hint: null,
    durationMs: 1,
  }));
  return { ok: true, stage: "test" as const, expected: n, passed: n, failed: 0, tests };
}

Deno.test("a lesson is recorded as passed only from a complete pass, never by update()", async () => {
  const ws = await tempWorkspace();
  try {
    const [one] = ws.course.lessons;
    const pass = completePass(5);
    // ok: true is not enough: a check without a result, or a missing one, fails the lesson.
    ws.recordGrade(one, { ...pass, tests: pass.tests.slice(0, 4), passed: 4 });
    assert.equal(ws.progress(one).status, "failed");
    ws.recordGrade(one, {
      ...pass,
      tests: [...pass.tests.slice(0, 4), { ...pass.tests[4], run: "not run" as const }],
    });
    assert.equal(ws.progress(one).status, "failed");
    ws.recordGrade(one, { ...pass, stage: "timeout" });
    assert.equal(ws.progress(one).status, "failed");
    // update() ignores the grading fields, whatever a caller passes.
    ws.update(one, { status: "passed", grading: 9 } as never);
    assert.equal(ws.progress(one).status, "failed");
    ws.recordGrade(one, pass);
    assert.equal(ws.progress(one).status, "passed");
    const saved = JSON.parse(Deno.readTextFileSync(ws.stateFile)).lessons[one.id];
    assert.equal(saved.status, "passed");
    assert.equal(saved.grading, 2);
    assert.equal(saved.checks, 4, "four gradings");
  } finally {
    await removeDir(ws.dir);
  }
});

Deno.test("plain `deno test` in the workspace grades it with no wrapper", async () => {
  const ws = await tempWorkspace();
  try {
    const [one] = ws.course.lessons;
    // Outside the course, the workspace carries its own deno.json, so test discovery stays in it.
    assert.match(Deno.readTextFileSync(path.join(ws.dir, "deno.json")), /"imports"/);
    const failing = await runCommand(Deno.execPath(), ["test", "-A"], {
      cwd: ws.dir,
      env: { NO_COLOR: "1" },
      timeoutMs: 60_000,
    });
    assert.match(failing.stdout, /running 5 tests from \.\/01-feature-words\/exercise_test\.ts/);
    assert.match(failing.stdout, /running 2 tests from \.\/02-status-names\/exercise_test\.ts/);
    assert.equal(failing.code, 1);
    assert.match(
      failing.stdout,
      /featureWord\(word, 0\) is bits 0 to 31 \[4\.2\.2\.2\/7\] \.\.\. FAILED/,
    );
    assert.match(failing.stdout, /observed: featureWord\(\) is not written yet/);
    assert.match(failing.stdout, /the spec requires: .+\(§4\.2\.2\.2, requirement 4\.2\.2\.2\/7\)/);
    useVariant(ws, one, "correct");
    const passing = await runCommand(Deno.execPath(), ["test", "-A"], {
      cwd: ws.lessonDir(one),
      env: { NO_COLOR: "1" },
      timeoutMs: 60_000,
    });
    assert.equal(passing.code, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /ok \| 5 passed \| 0 failed/);
  } finally {
    await removeDir(ws.dir);
  }
});

Deno.test("the default workspace folder is <repo>/workspace unless VIRTIO_LAB_WORKSPACE says otherwise", () => {
  const course = fixtureCourse();
  const previous = Deno.env.get("VIRTIO_LAB_WORKSPACE");
  try {
    Deno.env.delete("VIRTIO_LAB_WORKSPACE");
    assert.equal(new Workspace(course).dir, path.join(FIXTURE_ROOT, "workspace"));
    Deno.env.set("VIRTIO_LAB_WORKSPACE", "/tmp/elsewhere");
    assert.equal(new Workspace(course).dir, "/tmp/elsewhere");
  } finally {
    if (previous === undefined) Deno.env.delete("VIRTIO_LAB_WORKSPACE");
    else Deno.env.set("VIRTIO_LAB_WORKSPACE", previous);
  }
});

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory) await copyDir(src, dst);
    else await Deno.copyFile(src, dst);
  }
}
