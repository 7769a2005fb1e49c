import assert from "node:assert/strict";
import * as path from "node:path";
import { readState, STATE_VERSION, writeState } from "../../course/state.ts";
import { CourseError } from "../../course/errors.ts";
import { removeDir } from "./helpers.ts";

async function withDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-state-" });
  try {
    await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

Deno.test("a missing state file is an empty, current-version state", () =>
  withDir((dir) => {
    const { state, warnings } = readState(path.join(dir, "state.json"));
    assert.deepEqual(state, { version: STATE_VERSION, lessons: {} });
    assert.deepEqual(warnings, []);
  }));

Deno.test("state round-trips, keeps unknown lesson ids, drops ill-typed fields", () =>
  withDir((dir) => {
    const file = path.join(dir, "state.json");
    writeState(file, {
      version: 1,
      lessons: {
        "mmio-window": { status: "passed", grading: 2, hintsSeen: 2, checks: 3 },
        "retired-lesson": { status: "failed" },
      },
      lastLesson: "mmio-window",
    });
    assert.deepEqual(readState(file).state.lessons["retired-lesson"], { status: "failed" });
    assert.deepEqual(readState(file).state.lessons["mmio-window"], {
      status: "passed",
      grading: 2,
      hintsSeen: 2,
      checks: 3,
    });
    Deno.writeTextFileSync(
      file,
      JSON.stringify({
        version: 1,
        lessons: { a: { status: "great", hintsSeen: -1, checks: 2, extra: true } },
      }),
    );
    assert.deepEqual(readState(file).state.lessons.a, { checks: 2 });
  }));

Deno.test("a corrupt state file is kept as state.json.bak and reported in one line", () =>
  withDir((dir) => {
    const file = path.join(dir, "state.json");
    for (const text of ["{ not json", "[]", '{"lessons": {}}', '{"version": 1, "lessons": 3}']) {
      Deno.writeTextFileSync(file, text);
      const { state, warnings } = readState(file, "workspace/.lab/state.json");
      assert.deepEqual(state.lessons, {});
      assert.equal(warnings.length, 1);
      assert.match(
        warnings[0],
        /^workspace\/\.lab\/state\.json .+: kept it as state\.json\.bak and started fresh progress$/,
      );
      assert.equal(Deno.readTextFileSync(`${file}.bak`), text);
      assert.throws(() => Deno.statSync(file));
    }
  }));

Deno.test("a state file from a newer engine is refused, not overwritten", () =>
  withDir((dir) => {
    const file = path.join(dir, "state.json");
    const text = JSON.stringify({ version: 2, lessons: {}, somethingNew: true });
    Deno.writeTextFileSync(file, text);
    assert.throws(
      () => readState(file, "workspace/.lab/state.json"),
      (e: unknown) =>
        e instanceof CourseError &&
        /written by a newer virtio-lab \(state version 2; this one reads 1\)/.test(e.message),
    );
    assert.equal(Deno.readTextFileSync(file), text);
  }));

Deno.test("a pass recorded before grading was authenticated no longer counts, and says so", () =>
  withDir((dir) => {
    const file = path.join(dir, "state.json");
    Deno.writeTextFileSync(
      file,
      JSON.stringify({
        version: 1,
        lessons: {
          "mmio-window": { status: "passed", passedAt: "2026-01-01T10:00:00.000Z", checks: 1 },
          "status-reset": { status: "passed", grading: 2, checks: 2 },
        },
      }),
    );
    const { state, warnings } = readState(file, "workspace/.lab/state.json");
    assert.deepEqual(state.lessons["mmio-window"], { checks: 1 });
    assert.deepEqual(state.lessons["status-reset"], { status: "passed", grading: 2, checks: 2 });
    assert.deepEqual(warnings, [
      'workspace/.lab/state.json: the pass of lesson "mmio-window" was recorded before grading ' +
      "was authenticated, so it no longer counts: check the lesson again",
    ]);
  }));
