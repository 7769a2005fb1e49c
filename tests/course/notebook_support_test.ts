import assert from "node:assert/strict";
import {
  ExerciseError,
  gradeLesson,
  hint,
  loadExercise,
  showLesson,
} from "../../course/notebook_support.ts";
import { FIXTURE_ROOT, removeDir, tempWorkspace, useVariant } from "./helpers.ts";

Deno.test("loadExercise loads the learner's current file freshly each time, in a subprocess", async () => {
  const ws = await tempWorkspace();
  const options = { courseRoot: FIXTURE_ROOT, workspaceDir: ws.dir };
  try {
    const lesson = ws.course.lessons[0];
    const stub = await loadExercise(1, options);
    assert.deepEqual(stub.exports.map((e) => [e.name, e.kind]), [["featureWord", "function"], [
      "withFeatureWord",
      "function",
    ]]);
    assert.match(
      String((await stub.tryCall("featureWord", 1n, 0) as { threw: string }).threw),
      /^NotWrittenYetError: TODO/,
    );
    await assert.rejects(
      stub.call("featureWord", 1n, 0),
      (e: unknown) => e instanceof ExerciseError && e.remoteName === "NotWrittenYetError",
    );

    useVariant(ws, lesson, "correct");
    const fixed = await loadExercise("feature-words", options);
    assert.equal(await fixed.call("featureWord", 0x1_8000_0001n, 0), 0x8000_0001);
    assert.equal(
      await fixed.run((m, word: bigint) => m.withFeatureWord(word, 1, 7), 0n),
      0x7_0000_0000n,
    );
    assert.match(Deno.inspect(fixed), /featureWord \(function\)/);

    useVariant(ws, lesson, "wrong_signed");
    const edited = await loadExercise(1, options);
    assert.equal(
      await edited.call("featureWord", 0x8000_0000n, 0),
      -0x8000_0000,
      "the edit is seen, not a cached module",
    );
    edited.close();
    await assert.rejects(edited.call("featureWord", 1n, 0), /closed/);
  } finally {
    await removeDir(ws.dir);
  }
});

Deno.test("loadExercise: a load failure and an infinite loop are reported, not hung on", async () => {
  const ws = await tempWorkspace();
  const options = { courseRoot: FIXTURE_ROOT, workspaceDir: ws.dir, timeoutSeconds: 1 };
  try {
    const lesson = ws.course.lessons[0];
    useVariant(ws, lesson, "throws_on_load");
    await assert.rejects(
      loadExercise(1, options),
      /exercise\.ts failed while loading: SyntaxError/,
    );
    useVariant(ws, lesson, "infinite_loop");
    const looping = await loadExercise(1, options);
    await assert.rejects(
      looping.call("featureWord", 1n, 0),
      /featureWord\(\) timed out after 1 s: is there an infinite loop\?/,
    );
  } finally {
    await removeDir(ws.dir);
  }
});

Deno.test("gradeLesson, showLesson and hint display themselves for Jupyter", async () => {
  const ws = await tempWorkspace();
  const options = { courseRoot: FIXTURE_ROOT, workspaceDir: ws.dir };
  try {
    const report = await gradeLesson(2, options);
    assert.equal(report.ok, false);
    const display = (report[Symbol.for("Jupyter.display")] as () => Record<string, string>)();
    const html = display["text/html"];
    assert.match(
      html,
      /^<div [^>]*data-virtio-lab="grade-report">\n<p data-virtio-lab="verdict"[^>]*>✘ FAIL lesson 2/,
    );
    assert.match(html, /data-virtio-lab="grade-checks"/);
    assert.match(
      html,
      /data-virtio-lab="not-written"[^>]*>Not written yet: replace the <code>todo\(\)<\/code> calls/,
    );
    assert.match(html, /<details data-virtio-lab="failure">/, "each failure folded");
    assert.match(html, /Stuck\? <code>hint\(LESSON\)<\/code>/);
    assert.doesNotMatch(
      html,
      /deno task lab hint/,
      "the notebook names the call, not the shell command",
    );
    const state = JSON.parse(Deno.readTextFileSync(ws.stateFile));
    assert.equal(
      state.lessons["status-names"].status,
      "failed",
      "the grade is recorded in the progress",
    );
    const shown = showLesson(1, options);
    assert.ok(!shown.markdown.includes("ts cell"));
    const first = await hint(1, undefined, options);
    assert.match(first.markdown, /^\*\*Hint 1\*\*/);
    const second = await hint(1, undefined, options);
    assert.match(second.markdown, /^\*\*Hint 2\*\*/);
  } finally {
    await removeDir(ws.dir);
  }
});
