import assert from "node:assert/strict";
import * as path from "node:path";
import { FIXTURE_ROOT, removeDir, REPO, useVariant } from "../course/helpers.ts";
import { Workspace } from "../../course/workspace.ts";
import { loadCourse } from "../../course/manifest.ts";
import { hasTool, requireTool } from "./_run.ts";

const LAB_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net=127.0.0.1",
  "--allow-sys=hostname",
];

/** A running `lab watch`, with its output collected as it streams. */
class Running {
  output = "";
  readonly child: Deno.ChildProcess;
  readonly #done: Promise<void>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(ws: string, args: string[]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...LAB_FLAGS, path.join(REPO, "cli", "main.ts"), ...args],
      env: { VIRTIO_LAB_COURSE: FIXTURE_ROOT, VIRTIO_LAB_WORKSPACE: ws, NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.#writer = child.stdin.getWriter();
    const decoder = new TextDecoder();
    this.#done = (async () => {
      for await (const chunk of child.stdout) {
        this.output += decoder.decode(chunk, { stream: true });
      }
    })();
    void new Response(child.stderr).text();
  }

  /** Waits until `pattern` has appeared `count` times; returns when it did (ms since epoch). */
  async waitFor(pattern: RegExp, count = 1, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const seen = this.output.match(new RegExp(pattern.source, "g"))?.length ?? 0;
      if (seen >= count) return Date.now();
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`timed out waiting for ${pattern} x${count}; output so far:\n${this.output}`);
  }

  async type(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGINT");
    } catch {
      // already gone
    }
    await this.#writer.close().catch(() => {});
    const status = await this.child.status;
    await this.#done;
    return status;
  }
}

Deno.test("lab watch re-grades within a second of a save", async () => {
  const ws = path.join(await Deno.makeTempDir({ prefix: "virtio-lab-watch-" }), "workspace");
  const course = loadCourse(FIXTURE_ROOT);
  const workspace = await Workspace.open(course, ws);
  const run = new Running(ws, ["watch", "1"]);
  try {
    await run.waitFor(/FAIL lesson 1: 5 of 5 checks failed/);
    await run.waitFor(/save your exercise to re-grade; Ctrl\+C to stop/);
    await new Promise((r) => setTimeout(r, 300)); // let the watcher settle
    const saved = Date.now();
    useVariant(workspace, course.lessons[0], "correct");
    const started = await run.waitFor(/exercise\.ts changed: grading lesson 1\.\.\./);
    const finished = await run.waitFor(/PASS lesson 1: all 5 checks passed/);
    console.log(
      `watch: re-grade started ${started - saved} ms and finished ${
        finished - saved
      } ms after the save`,
    );
    assert.ok(started - saved < 1000, `re-grade started ${started - saved} ms after the save`);
  } finally {
    const status = await run.stop();
    assert.equal(status.code, 0, "Ctrl+C ends watch cleanly");
    await removeDir(path.dirname(ws));
  }
});

Deno.test("lab watch --manual re-grades on Enter and stops on q", async () => {
  const ws = path.join(await Deno.makeTempDir({ prefix: "virtio-lab-watch-" }), "workspace");
  const course = loadCourse(FIXTURE_ROOT);
  const workspace = await Workspace.open(course, ws);
  const run = new Running(ws, ["watch", "2", "--manual"]);
  try {
    await run.waitFor(/FAIL lesson 2: 2 of 2 checks failed/);
    await run.waitFor(/Press Enter to grade again, q then Enter to stop\./);
    Deno.writeTextFileSync(
      workspace.exerciseFile(course.lessons[1]),
      `export { formatStatus } from "${path.join(REPO, "virtio", "status.ts")}";\n`,
    );
    await run.type("\n");
    await run.waitFor(/Enter pressed: grading lesson 2\.\.\./);
    await run.waitFor(/PASS lesson 2: all 2 checks passed/);
    await run.type("q\n");
    const status = await run.child.status;
    assert.equal(status.code, 0);
  } finally {
    await run.stop();
    await removeDir(path.dirname(ws));
  }
});

Deno.test("lab watch keys as lines off a terminal: h the next hint, n only after a pass, q quits; nothing cleared", async () => {
  const ws = path.join(await Deno.makeTempDir({ prefix: "virtio-lab-watch-" }), "workspace");
  const course = loadCourse(FIXTURE_ROOT);
  const workspace = await Workspace.open(course, ws);
  const run = new Running(ws, ["watch", "1", "--manual"]);
  try {
    await run.waitFor(/FAIL lesson 1: 5 of 5 checks failed/);
    await run.type("h\n");
    await run.waitFor(/Hint 1 of \d+ · lesson 1/);
    await run.type("n\n");
    await run.waitFor(/Lesson 1 does not pass yet: n moves on once it does/);
    useVariant(workspace, course.lessons[0], "correct");
    await run.type("\n");
    await run.waitFor(/PASS lesson 1: all 5 checks passed/);
    await run.waitFor(/Lesson 1 passes\. Type n then Enter for lesson 2 · /);
    await run.type("n\n");
    await run.waitFor(/moved on to lesson 2 · .*: grading lesson 2\.\.\./);
    await run.waitFor(/FAIL lesson 2: 2 of 2 checks failed/);
    await run.type("q\n");
    assert.equal((await run.child.status).code, 0);
    // The scrollback keeps every grade: no clear-screen sequence, both reports still there.
    assert.ok(!run.output.includes("\x1b[2J") && !run.output.includes("\x1b[3J"));
    assert.match(run.output, /FAIL lesson 1[\s\S]*PASS lesson 1[\s\S]*FAIL lesson 2/);
  } finally {
    await run.stop();
    await removeDir(path.dirname(ws));
  }
});

Deno.test({
  name:
    "lab watch in a real terminal (tmux, 80 columns): keys h, n, q in raw mode; terminal restored",
  ...requireTool(hasTool("tmux"), "tmux"),
  async fn() {
    const ws = path.join(await Deno.makeTempDir({ prefix: "virtio-lab-watch-" }), "workspace");
    const course = loadCourse(FIXTURE_ROOT);
    const workspace = await Workspace.open(course, ws);
    const session = `lab-watch-${Deno.pid}`;
    const sh = (...args: string[]) =>
      new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
    // -J joins lines the terminal wrapped, so an overflowing line shows as longer than 80.
    const pane = async () =>
      new TextDecoder().decode(
        (await sh("capture-pane", "-t", session, "-p", "-J", "-S", "-")).stdout,
      );
    const waitPane = async (pattern: RegExp) => {
      for (let i = 0; i < 1200; i++) {
        const text = await pane();
        if (pattern.test(text)) return text;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`tmux pane never showed ${pattern}:\n${await pane()}`);
    };
    const command = [
      Deno.execPath(),
      "run",
      ...LAB_FLAGS,
      path.join(REPO, "cli", "main.ts"),
      "watch",
      "1",
    ]
      .map((a) => `'${a}'`).join(" ");
    await sh(
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      "80",
      "-y",
      "30",
      `cd ${REPO} && VIRTIO_LAB_COURSE='${FIXTURE_ROOT}' VIRTIO_LAB_WORKSPACE='${ws}' ${command}; ` +
        `echo "EXITED $?"; stty -a | grep -o -- '-*icanon'; sleep 30`,
    );
    try {
      await waitPane(/Keys: h next hint · r grade again · q quit/);
      await sh("send-keys", "-t", session, "h");
      await waitPane(/Hint 1 of \d+ · lesson 1[\s\S]*Press h for hint 2\./);
      await sh("send-keys", "-t", session, "n");
      await waitPane(/Lesson 1 does not pass yet: n moves on once it does/);
      useVariant(workspace, course.lessons[0], "correct");
      await waitPane(/PASS lesson 1[\s\S]*Press n for lesson 2[\s\S]*n next lesson · q quit/);
      await sh("send-keys", "-t", session, "n");
      await waitPane(/moved on to lesson 2[\s\S]*FAIL lesson 2/);
      await sh("send-keys", "-t", session, "q");
      const text = await waitPane(/EXITED \d+[\s\S]*icanon/);
      assert.match(text, /EXITED 0/);
      assert.match(text, /^icanon$/m, "the terminal is back in canonical mode");
      // The scrollback kept everything, in order, and nothing ran past 80 columns.
      assert.match(text, /FAIL lesson 1[\s\S]*Hint 1 of[\s\S]*PASS lesson 1[\s\S]*FAIL lesson 2/);
      for (const line of text.split("\n")) assert.ok(line.length <= 80, `${line.length}: ${line}`);
    } finally {
      await sh("kill-session", "-t", session);
      await removeDir(path.dirname(ws));
    }
  },
});
