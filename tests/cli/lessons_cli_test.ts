import assert from "node:assert/strict";
import * as path from "node:path";
import { FIXTURE_ROOT, removeDir, REPO, runCommand, useVariant } from "../course/helpers.ts";
import { Workspace } from "../../course/workspace.ts";
import { loadCourse } from "../../course/manifest.ts";

const LAB_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net=127.0.0.1",
  "--allow-sys=hostname",
];

/** Runs `lab <args>` like `deno task lab` does, against the fixture course and a temporary workspace. */
function lab(workspace: string, args: string[], stdin?: string) {
  return runCommand(Deno.execPath(), [
    "run",
    ...LAB_FLAGS,
    path.join(REPO, "cli", "main.ts"),
    ...args,
  ], {
    env: { VIRTIO_LAB_COURSE: FIXTURE_ROOT, VIRTIO_LAB_WORKSPACE: workspace, NO_COLOR: "1" },
    stdin,
    timeoutMs: 90_000,
  });
}

async function withWorkspace(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = path.join(await Deno.makeTempDir({ prefix: "virtio-lab-cli-" }), "workspace");
  try {
    await fn(dir);
  } finally {
    await removeDir(path.dirname(dir));
  }
}

function assertOneLineError(
  result: { code: number; stdout: string; stderr: string },
  code: number,
  pattern: RegExp,
) {
  assert.equal(result.code, code, result.stderr);
  const lines = result.stderr.trim().split("\n").filter((l) =>
    !l.startsWith("lab: created your workspace")
  );
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], pattern);
  assert.ok(!/\n\s+at /.test(result.stderr), "no stack trace");
}

Deno.test("lab with no arguments shows progress and the next step, and creates the workspace", () =>
  withWorkspace(async (ws) => {
    const r = await lab(ws, []);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /virtio-lab · learn virtio by building it · 0 of 2 lessons passed/);
    assert.match(r.stdout, /│ 1 │ Feature words +│ feature-words +│ · not started/);
    assert.match(r.stdout, /Next: lesson 1 · Feature words/);
    assert.match(r.stdout, /deno task lab show 1/);
    assert.match(r.stderr, /created your workspace at workspace\/ from the lesson stubs/);
    assert.ok(Deno.statSync(path.join(ws, "01-feature-words", "exercise.ts")).isFile);
    assert.ok(!r.stdout.includes("\x1b["), "no colour codes when NO_COLOR is set / not a terminal");
  }));

Deno.test("lab list and list --json", () =>
  withWorkspace(async (ws) => {
    const r = await lab(ws, ["list"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /│ 2 │ Naming the status byte/);
    const json = JSON.parse((await lab(ws, ["list", "--json"])).stdout);
    assert.deepEqual(
      json.map((l: { number: number; id: string; status: string }) => [l.number, l.id, l.status]),
      [
        [1, "feature-words", "not started"],
        [2, "status-names", "not started"],
      ],
    );
  }));

Deno.test("lab show renders the lesson text without colour codes when piped", () =>
  withWorkspace(async (ws) => {
    const r = await lab(ws, ["show", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Lesson 1 of 2 · Feature words/);
    assert.match(r.stdout, /Spec: §2\.2 Feature Bits; §4\.2\.2 MMIO Device Register Layout/);
    assert.match(r.stdout, /A virtio device offers up to 64 feature bits \(§2\.2\)/);
    assert.ok(!r.stdout.includes("```"), "Markdown is rendered, not printed raw");
    assert.ok(!r.stdout.includes("\x1b["));
    assert.match((await lab(ws, ["show", "feature-words", "--raw"])).stdout, /^# Feature words/);
  }));

Deno.test("a bad lesson id is one line, a non-zero exit and no stack trace", () =>
  withWorkspace(async (ws) => {
    for (
      const args of [["show", "nope"], ["check", "7"], ["hint", "x"], ["solution", "0"], [
        "reset",
        "nope",
        "--yes",
      ]]
    ) {
      assertOneLineError(
        await lab(ws, args),
        2,
        /^lab: No lesson "\w+" \(valid: 1-2 or feature-words, status-names\)$/,
      );
    }
    const unknown = await lab(ws, ["frobnicate"]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  }));

Deno.test("lab check on the stub fails citing the spec; a correct solution passes; --json has the shape", () =>
  withWorkspace(async (ws) => {
    // The untouched stub: one line saying what to do, not five identical failures.
    const stub = await lab(ws, ["check", "1"]);
    assert.equal(stub.code, 1);
    assert.match(
      stub.stdout,
      /^· not written yet: replace the todo\(\) calls in \S+\/01-feature-words\/exercise\.ts\n {2}still to write: featureWord\(\), withFeatureWord\(\)$/m,
    );
    assert.doesNotMatch(stub.stdout, /observed:|│/);
    assert.match(stub.stdout, /FAIL lesson 1: 5 of 5 checks failed/);
    assert.match(stub.stderr, /lab: lesson 1 does not pass yet/);
    // --verbose shows every check in full, citing the spec.
    const failing = await lab(ws, ["check", "1", "--verbose"]);
    assert.equal(failing.code, 1);
    assert.match(failing.stdout, /observed: featureWord\(\) is not written yet/);
    assert.match(
      failing.stdout,
      /the spec requires: [\s\S]+? \(§4\.2\.2\.2,\s+requirement\s+4\.2\.2\.2\/7\)/,
    );
    assert.match(failing.stdout, /read hint 1: deno task lab hint 1 1/);
    assert.match(failing.stdout, /FAIL lesson 1: 5 of 5 checks failed/);

    const course = loadCourse(FIXTURE_ROOT);
    const workspace = new Workspace(course, ws);
    useVariant(workspace, course.lessons[0], "correct");
    const passing = await lab(ws, ["check", "1"]);
    assert.equal(passing.code, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /PASS lesson 1: all 5 checks passed/);

    const json = await lab(ws, ["check", "feature-words", "--json"]);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.stage, "test");
    assert.equal(report.tests.length, 5);
    assert.equal(report.expected, 5);
    assert.deepEqual(Object.keys(report.tests[0]).sort(), [
      "durationMs",
      "hint",
      "message",
      "name",
      "requirement",
      "run",
      "section",
      "status",
    ]);

    const status = await lab(ws, ["status"]);
    assert.match(status.stdout, /1 of 2 lessons passed/);
    assert.match(status.stdout, /│ 1 │ Feature words +│ feature-words +│ ✔ passed/);

    const all = await lab(ws, ["check", "--all"]);
    assert.equal(all.code, 1);
    assert.match(all.stdout, /1 of 2 lessons pass/);
    assert.match(all.stderr, /lab: 1 of 2 lessons do not pass yet/);
  }));

Deno.test("with no lesson named, show, hint, check and next work on the first lesson not passed; solution on the last passed", () =>
  withWorkspace(async (ws) => {
    const next = await lab(ws, ["next"]);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /^Next: lesson 1 · Feature words/);
    assert.match(next.stdout, /deno task lab show 1 +read the lesson/);
    assert.match(next.stdout, /deno task lab check 1 +grade it/);
    assert.match(next.stdout, /\(lesson 1 of 2; 0 passed so far\)/);
    assert.equal((await lab(ws, ["show"])).stdout, (await lab(ws, ["show", "1"])).stdout);
    assert.match((await lab(ws, ["hint"])).stdout, /^Hint 1 of 3 · lesson 1 · Feature words/);
    assertOneLineError(
      await lab(ws, ["solution"]),
      1,
      /^lab: No lesson passes yet, so no reference code is unlocked: finish lesson 1 first/,
    );
    assert.match(
      (await lab(ws, ["solution", "--force"])).stdout,
      /^Reference for lesson 1 · Feature words/,
    );
    assertOneLineError(await lab(ws, ["check", "1", "--all"]), 2, /Give a lesson or --all/);
    const stub = await lab(ws, ["check"]);
    assert.equal(stub.code, 1);
    assert.match(stub.stdout, /FAIL lesson 1: 5 of 5 checks failed/);
    assert.doesNotMatch(stub.stdout, /lesson 2/, "only the current lesson is graded");

    const course = loadCourse(FIXTURE_ROOT);
    useVariant(new Workspace(course, ws), course.lessons[0], "correct");
    const passing = await lab(ws, ["check"]);
    assert.equal(passing.code, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /PASS lesson 1: all 5 checks passed/);
    // Lesson 1 passes: the current lesson moves on, the unlocked solution stays lesson 1's.
    const after = await lab(ws, ["next"]);
    assert.match(after.stdout, /^Next: lesson 2 · Naming the status byte/);
    assert.match(after.stdout, /\(lesson 2 of 2; 1 passed so far\)/);
    assert.match((await lab(ws, ["show"])).stdout, /Lesson 2 of 2 · Naming the status byte/);
    assert.match((await lab(ws, ["hint"])).stdout, /^Hint 1 of \d+ · lesson 2 /);
    const solution = await lab(ws, ["solution"]);
    assert.equal(solution.code, 0, solution.stderr);
    assert.match(solution.stdout, /^Reference for lesson 1 · Feature words/);
    const second = await lab(ws, ["check"]);
    assert.match(second.stdout, /FAIL lesson 2: /);
    assert.doesNotMatch(second.stdout, /lesson 1:/);
  }));

Deno.test("an exercise that exits at load fails every check, and lab solution stays locked", () =>
  withWorkspace(async (ws) => {
    const course = loadCourse(FIXTURE_ROOT);
    const workspace = await Workspace.open(course, ws);
    const file = workspace.exerciseFile(course.lessons[0]);
    const stub = Deno.readTextFileSync(file);
    Deno.writeTextFileSync(file, stub.replace(/(\nimport [^\n]*\n)/, "$1Deno.exit(0);\n"));
    assert.match(Deno.readTextFileSync(file), /stub\.ts";\nDeno\.exit\(0\);\n/);
    const json = await lab(ws, ["check", "1", "--json"]);
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, false);
    assert.deepEqual([report.expected, report.passed, report.failed], [5, 0, 5]);
    assert.match(report.tests[0].message, /Deno\.exit\(\) is not available while grading/);
    const text = await lab(ws, ["check", "1"]);
    assert.match(text.stdout, /FAIL lesson 1: 5 of 5 checks failed/);
    assertOneLineError(
      await lab(ws, ["solution", "1"]),
      1,
      /Lesson 1 does not pass yet: run `deno task lab check 1` first/,
    );
    assert.match((await lab(ws, ["status"])).stdout, /0 of 2 lessons passed/);
  }));

Deno.test("lab check --timeout stops an infinite loop with a clear message", () =>
  withWorkspace(async (ws) => {
    const course = loadCourse(FIXTURE_ROOT);
    const workspace = await Workspace.open(course, ws);
    useVariant(workspace, course.lessons[0], "infinite_loop");
    const r = await lab(ws, ["check", "1", "--timeout", "2"]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /timed out after 2 s: is there an infinite loop\?/);
    assertOneLineError(
      await lab(ws, ["check", "1", "--timeout", "soon"]),
      2,
      /--timeout must be a positive number of seconds/,
    );
  }));

Deno.test("lab hint shows the next hint each time, remembers it, and hint K / --all", () =>
  withWorkspace(async (ws) => {
    const first = await lab(ws, ["hint", "1"]);
    assert.match(first.stdout, /^Hint 1 of 3 · lesson 1 · Feature words/);
    assert.match(first.stdout, /Run it again for hint 2\./);
    assert.match((await lab(ws, ["hint", "1"])).stdout, /^Hint 2 of 3/);
    assert.match(
      (await lab(ws, ["hint", "1"])).stdout,
      /^Hint 3 of 3[\s\S]*That was the last hint\./,
    );
    assert.match((await lab(ws, ["hint", "1"])).stdout, /^Hint 3 of 3[\s\S]*you have seen all 3/);
    assert.match((await lab(ws, ["hint", "2", "2"])).stdout, /^Hint 2 of 2/);
    const all = await lab(ws, ["hint", "1", "--all"]);
    assert.equal(all.stdout.match(/^Hint \d of 3/gm)?.length, 3);
    assertOneLineError(await lab(ws, ["hint", "1", "4"]), 2, /Lesson 1 has hints 1 to 3, not "4"/);
    const state = JSON.parse(Deno.readTextFileSync(path.join(ws, ".lab", "state.json")));
    assert.equal(state.lessons["feature-words"].hintsSeen, 3);
  }));

Deno.test("lab solution waits until the lesson passes (or --force) and shows the library's code", () =>
  withWorkspace(async (ws) => {
    assertOneLineError(
      await lab(ws, ["solution", "1"]),
      1,
      /Lesson 1 does not pass yet: run `deno task lab check 1` first/,
    );
    const forced = await lab(ws, ["solution", "1", "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /── featureWord {2}virtio\/features\.ts:\d+/);
    assert.match(
      forced.stdout,
      /export function featureWord\(word: bigint, select: number\): number \{/,
    );
    assert.match(forced.stdout, /export function withFeatureWord/);
  }));

Deno.test("lab reset asks for --yes off a terminal, restores the stub and keeps a backup", () =>
  withWorkspace(async (ws) => {
    const course = loadCourse(FIXTURE_ROOT);
    const workspace = await Workspace.open(course, ws);
    const lesson = course.lessons[0];
    useVariant(workspace, lesson, "correct");
    const mine = Deno.readTextFileSync(workspace.exerciseFile(lesson));
    assertOneLineError(
      await lab(ws, ["reset", "1"]),
      2,
      /reset overwrites workspace\/01-feature-words\/exercise\.ts with the stub: run again with --yes/,
    );
    assert.equal(
      Deno.readTextFileSync(workspace.exerciseFile(lesson)),
      mine,
      "nothing changed without --yes",
    );
    assertOneLineError(await lab(ws, ["reset"]), 2, /Which lesson\? Give its number, or --all/);
    const r = await lab(ws, ["reset", "1", "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Your previous work is kept in (workspace\/\.lab\/backup\/[^/\s]+)\//);
    const backup =
      /Your previous work is kept in workspace\/(\.lab\/backup\/[^/\s]+)\//.exec(r.stdout)![1];
    assert.equal(Deno.readTextFileSync(path.join(ws, backup, lesson.dir, "exercise.ts")), mine);
    assert.equal(Deno.readTextFileSync(workspace.exerciseFile(lesson)), workspace.stubText(lesson));
    const all = await lab(ws, ["reset", "--all", "--yes"]);
    assert.equal(all.code, 0);
    assert.match(all.stdout, /lesson 2 \(Naming the status byte\): .* is the stub again/);
  }));

Deno.test("a corrupt state file is reported in one line and kept as .bak", () =>
  withWorkspace(async (ws) => {
    await lab(ws, ["list"]);
    Deno.writeTextFileSync(path.join(ws, ".lab", "state.json"), "{ oops");
    const r = await lab(ws, ["list"]);
    assert.equal(r.code, 0);
    assert.match(
      r.stderr,
      /^lab: warning: workspace\/\.lab\/state\.json is not valid JSON .*: kept it as state\.json\.bak and started fresh progress$/m,
    );
    assert.equal(Deno.readTextFileSync(path.join(ws, ".lab", "state.json.bak")), "{ oops");
    Deno.writeTextFileSync(
      path.join(ws, ".lab", "state.json"),
      JSON.stringify({ version: 9, lessons: {} }),
    );
    assertOneLineError(
      await lab(ws, ["list"]),
      2,
      /written by a newer virtio-lab \(state version 9; this one reads 1\)/,
    );
  }));

Deno.test("lab repl preloads the lab, the exercise and the reference", () =>
  withWorkspace(async (ws) => {
    const r = await lab(
      ws,
      ["repl", "1"],
      "ref.featureWord(0x3_0000_0005n, 1)\nObject.keys(ex)\nmemory.size > 0\n",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /virtio-lab REPL · lesson 1: Feature words/);
    assert.match(
      r.stdout,
      /ex +your workspace\/01-feature-words\/exercise\.ts: featureWord, withFeatureWord/,
    );
    assert.match(r.stdout, /\n3\n/);
    assert.match(r.stdout, /\[ "featureWord", "withFeatureWord" \]/);
    assert.match(r.stdout, /\ntrue\n/);
  }));

Deno.test("a workspace that is a file, or one Deno may not write, ends in one line for every command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-cli-" });
  try {
    const file = path.join(dir, "not-a-folder");
    Deno.writeTextFileSync(file, "keep me");
    for (const args of [["check", "1"], ["hint", "1"], ["list"], ["show", "1"]]) {
      assertOneLineError(
        await lab(file, args),
        2,
        /The workspace .*not-a-folder is a file, not a folder: point VIRTIO_LAB_WORKSPACE at a folder/,
      );
    }
    assert.equal(Deno.readTextFileSync(file), "keep me");
    // A folder the process may not write (Deno's own permissions: root ignores mode bits).
    const ws = path.join(dir, "ws");
    Deno.mkdirSync(ws);
    const r = await runCommand(Deno.execPath(), [
      "run",
      "--allow-read",
      `--allow-write=${path.join(dir, "elsewhere")}`,
      "--allow-env",
      "--allow-run",
      path.join(REPO, "cli", "main.ts"),
      "hint",
      "1",
    ], { env: { VIRTIO_LAB_COURSE: FIXTURE_ROOT, VIRTIO_LAB_WORKSPACE: ws, NO_COLOR: "1" } });
    assertOneLineError(r, 2, /The workspace .*ws cannot be used \(.*\): make it writable/);
    assert.deepEqual([...Deno.readDirSync(ws)], [], "nothing was written");
  } finally {
    await removeDir(dir);
  }
});
