/**
 * The notebooks: every one is current (generated from its lesson.md), and
 * every one executes headless under nbclient with Deno's kernel, with no
 * error output and nothing on stderr.
 *
 * Execution needs Debian's jupyter-client, python3-nbclient and
 * python3-nbformat. Without them the test is skipped with a warning, except
 * under CI (the CI environment variable set), where it fails.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { loadCourse } from "../../course/manifest.ts";
import { main as notebooksTool } from "../../tools/notebooks.ts";
import { FIXTURE_ROOT, removeDir, REPO, runCommand } from "../course/helpers.ts";
import { lab } from "../cli/_run.ts";

// VIRTIO_LAB_PYTHON overrides the interpreter (e.g. to check the skip path).
const PYTHON = Deno.env.get("VIRTIO_LAB_PYTHON") ?? "/usr/bin/python3";
const RUNNER = path.join(REPO, "tools", "run_notebooks.py");
const inCI = Boolean(Deno.env.get("CI"));

async function jupyterProblem(): Promise<string | null> {
  try {
    const r = await runCommand(PYTHON, ["-c", "import nbclient, nbformat, jupyter_client"], {
      timeoutMs: 30_000,
    });
    return r.code === 0 ? null : r.stderr.trim().split("\n").at(-1) ?? "import failed";
  } catch (error) {
    return `${PYTHON} cannot run (${(error as Error).message})`;
  }
}

const problem = await jupyterProblem();
const HOW = "install Debian's jupyter-client python3-nbclient python3-nbformat to run it";
if (problem && !inCI) {
  console.warn(`notebooks_test: SKIPPING headless notebook execution: ${problem}; ${HOW}`);
}

Deno.test("every notebook is generated from its lesson and current (deno task notebooks --check)", () => {
  for (const root of [REPO, FIXTURE_ROOT]) {
    assert.equal(
      notebooksTool(["--check", "--course", root]),
      0,
      `notebooks of ${root} are stale: run deno task notebooks`,
    );
  }
});

interface RunResult {
  file: string;
  ok: boolean;
  seconds: number;
  problems: { cell: number; kind: string; text: string }[];
  outputs: string[][];
}

async function execute(files: string[], env: Record<string, string>): Promise<RunResult[]> {
  if (files.length === 0) return [];
  const r = await runCommand(PYTHON, [
    RUNNER,
    "--deno",
    Deno.execPath(),
    "--timeout",
    "120",
    ...files,
  ], {
    env,
    timeoutMs: 600_000,
  });
  const results = r.stdout.trim().split("\n").filter(Boolean).map((l) =>
    JSON.parse(l) as RunResult
  );
  assert.equal(results.length, files.length, `run_notebooks.py: ${r.stderr}`);
  return results;
}

Deno.test({
  name: "every notebook executes headless with the Deno kernel, without errors or stderr output",
  ignore: problem !== null && !inCI,
  async fn() {
    if (problem) {
      assert.fail(`CI must execute the notebooks, but Jupyter is unavailable: ${problem}; ${HOW}`);
    }
    const workspace = await Deno.makeTempDir({ prefix: "virtio-lab-nb-ws-" });
    try {
      const real = loadCourse(REPO).lessons.map((l) => l.paths.notebook);
      const fixture = loadCourse(FIXTURE_ROOT).lessons.map((l) => l.paths.notebook);
      const results = [
        ...await execute(real, { VIRTIO_LAB_WORKSPACE: path.join(workspace, "real") }),
        ...await execute(fixture, {
          VIRTIO_LAB_WORKSPACE: path.join(workspace, "fixture"),
          VIRTIO_LAB_COURSE: FIXTURE_ROOT,
        }),
      ];
      for (const result of results) {
        assert.deepEqual(
          result.problems,
          [],
          `${path.relative(REPO, result.file)} had error or stderr output`,
        );
        // The last cell grades the (pristine) exercise and shows a rich result.
        assert.deepEqual(
          result.outputs.at(-1),
          ["execute_result"],
          `${result.file}: the grading cell shows its table`,
        );
      }
      const first = results.find((r) => r.file.endsWith("01-feature-words.ipynb"))!;
      assert.ok(
        first.outputs.every((o) => o.length > 0 || first.outputs.indexOf(o) === 0),
        "every code cell after setup shows something",
      );
      console.log(results.map((r) => `${path.relative(REPO, r.file)}: ${r.seconds} s`).join("\n"));
      if (real.length === 0) {
        console.warn(
          "notebooks_test: the course has no lessons yet, so only the fixture notebooks ran",
        );
      }
    } finally {
      await removeDir(workspace);
    }
  },
});

Deno.test({
  name: "the headless runner reports error outputs and stderr output as problems",
  ignore: problem !== null && !inCI,
  async fn() {
    if (problem) {
      assert.fail(`CI must execute the notebooks, but Jupyter is unavailable: ${problem}; ${HOW}`);
    }
    const dir = await Deno.makeTempDir({ prefix: "virtio-lab-nb-" });
    try {
      const cell = (source: string) => ({
        cell_type: "code",
        execution_count: null,
        id: crypto.randomUUID().slice(0, 8),
        metadata: {},
        outputs: [],
        source: [source],
      });
      const nb = {
        cells: [cell("1 + 1"), cell('throw new Error("boom")'), cell('console.error("to stderr")')],
        metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" } },
        nbformat: 4,
        nbformat_minor: 5,
      };
      const file = path.join(dir, "bad.ipynb");
      Deno.writeTextFileSync(file, JSON.stringify(nb));
      const [result] = await execute([file], {});
      assert.equal(result.ok, false);
      assert.deepEqual(result.problems.map((p) => [p.cell, p.kind]), [[1, "error"], [2, "stderr"]]);
      assert.match(result.problems[0].text, /boom/);
    } finally {
      await removeDir(dir);
    }
  },
});

Deno.test({
  name: "lab notebook copies the lesson's notebook into the workspace once, and the copy executes",
  ignore: problem !== null && !inCI,
  async fn() {
    if (problem) {
      assert.fail(`CI must execute the notebooks, but Jupyter is unavailable: ${problem}; ${HOW}`);
    }
    const workspace = await Deno.makeTempDir({ prefix: "virtio-lab-nb-copy-" });
    try {
      const env = { VIRTIO_LAB_WORKSPACE: workspace };
      const r = await lab(["notebook", "1", "--no-open"], { env });
      assert.equal(r.code, 0, r.stderr);
      const lesson = loadCourse(REPO).lessons[0];
      const copy = path.join(workspace, lesson.dir, path.basename(lesson.paths.notebook));
      assert.match(
        r.stdout,
        /Your copy of the notebook: .*01-mmio-window\.ipynb \(from notebooks\/01-mmio-window\.ipynb; yours/,
      );
      assert.match(
        r.stdout,
        new RegExp(`jupyter notebook ${path.relative(REPO, copy).replaceAll(".", "\\.")}`),
      );
      const before = Deno.readTextFileSync(lesson.paths.notebook);
      const [result] = await execute([copy], env);
      assert.deepEqual(result.problems, [], "the copy's imports resolve from the workspace");
      assert.deepEqual(
        result.outputs.at(-1),
        ["execute_result"],
        "its grading cell shows the report",
      );
      assert.equal(
        Deno.readTextFileSync(lesson.paths.notebook),
        before,
        "the course's notebook is untouched",
      );
      // Executed, the copy now holds outputs; a second `lab notebook` keeps them.
      const executed = JSON.parse(Deno.readTextFileSync(copy));
      executed.cells[1].outputs = [{ output_type: "stream", name: "stdout", text: ["mine\n"] }];
      Deno.writeTextFileSync(copy, JSON.stringify(executed));
      const again = await lab(["notebook", "1", "--no-open"], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stdout, /\(from notebooks/, "no new copy");
      assert.deepEqual(JSON.parse(Deno.readTextFileSync(copy)).cells[1].outputs[0].text, [
        "mine\n",
      ]);
    } finally {
      await removeDir(workspace);
    }
  },
});
