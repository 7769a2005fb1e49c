import assert from "node:assert/strict";
import { type ProgressStream, stderrProgress } from "../../cli/progress.ts";
import { hasTool, lab, labCommandLine, REPO, requireTool } from "./_run.ts";
import { FIXTURE_ROOT } from "../course/helpers.ts";

/** A stream that records what was written, as text. */
function recorder(terminal: boolean): ProgressStream & { text: () => string } {
  const chunks: string[] = [];
  return {
    isTerminal: () => terminal,
    writeSync(bytes) {
      chunks.push(new TextDecoder().decode(bytes));
      return bytes.length;
    },
    text: () => chunks.join(""),
  };
}

Deno.test("stderrProgress writes nothing when the stream is not a terminal", () => {
  const stream = recorder(false);
  const progress = stderrProgress((d, t) => `${d}/${t}`, { stream });
  assert.equal(progress.shown, false);
  progress.update(1, 2);
  progress.update(2, 2);
  progress.finish();
  assert.equal(stream.text(), "");
});

Deno.test("stderrProgress redraws at most once per interval, always at the end, and erases the line", () => {
  const stream = recorder(true);
  let clock = 0;
  const progress = stderrProgress((d, t, s) => `${d}/${t} ${s}s`, {
    stream,
    intervalMs: 100,
    now: () => clock,
  });
  clock = 10;
  progress.update(1, 4); // first: drawn
  clock = 50;
  progress.update(2, 4); // 40 ms later: skipped
  clock = 200;
  progress.update(3, 4); // drawn
  clock = 210;
  progress.update(4, 4); // the last is always drawn
  progress.finish();
  progress.finish(); // a second finish erases nothing more
  assert.equal(
    stream.text(),
    "\r\x1b[K1/4 0.01s" + "\r\x1b[K3/4 0.2s" + "\r\x1b[K4/4 0.21s" + "\r\x1b[K",
  );
});

Deno.test("a progress line longer than the terminal is cut to fit one row", () => {
  const stream = recorder(true);
  const progress = stderrProgress(() => "grading lesson 12 (12 of 19) · Indirect descriptors", {
    stream,
    columns: () => 30,
  });
  progress.update(1, 1);
  assert.equal(stream.text(), "\r\x1b[Kgrading lesson 12 (12 of 19)…");
});

Deno.test("piped, disk read --sha256 and fuzz print no progress: stderr is today's summary only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const img = `${dir}/zero.img`;
    await Deno.writeFile(img, new Uint8Array(8 * 1024 * 1024));
    const read = await lab(["disk", "read", img, "--sha256"]);
    assert.equal(read.code, 0, read.stderr);
    assert.match(
      read.stderr,
      /^read 8 MiB through virtio-blk in [0-9.]+ s \([0-9.]+ MiB\/s\)\n$/,
      "exactly the one summary line, no \\r and no escape sequences",
    );
    const src = `${dir}/data.bin`;
    await Deno.writeFile(src, new Uint8Array(3 * 1024 * 1024 + 100).fill(0xa5));
    const write = await lab(["disk", "write", img, "--sector", "0", "--from", src]);
    assert.equal(write.code, 0, write.stderr);
    assert.equal(write.stderr, "", "no progress when stderr is piped");
    const all = await lab(["check", "--all"], {
      env: { VIRTIO_LAB_COURSE: FIXTURE_ROOT, VIRTIO_LAB_WORKSPACE: `${dir}/workspace` },
    });
    assert.equal(all.code, 1);
    assert.doesNotMatch(all.stderr, /\r|grading lesson/);
    const fuzz = await lab(["fuzz", "--target", "driver", "--seed", "1", "--ops", "500"]);
    assert.equal(fuzz.code, 0, fuzz.stdout + fuzz.stderr);
    assert.equal(fuzz.stderr, "");
    assert.doesNotMatch(fuzz.stdout, /\r|fuzzing:/);
    assert.ok(!fuzz.stdout.includes("\x1b"), "no escape sequences on stdout");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const tmux = hasTool("tmux");

Deno.test({
  name: "in a terminal (tmux), disk read --sha256 and fuzz draw a progress line, then erase it",
  ...requireTool(tmux, "tmux"),
  async fn() {
    const session = `lab-progress-${Deno.pid}`;
    const dir = await Deno.makeTempDir();
    const log = `${dir}/pane.log`;
    const sh = (...args: string[]) =>
      new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
    const pane = async () =>
      new TextDecoder().decode((await sh("capture-pane", "-t", session, "-p")).stdout);
    const waitPane = async (pattern: RegExp, timeoutMs = 60_000) => {
      const start = performance.now();
      while (performance.now() - start < timeoutMs) {
        const text = await pane();
        if (pattern.test(text)) return text;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`tmux pane never showed ${pattern}:\n${await pane()}`);
    };
    const img = `${dir}/zero.img`;
    await Deno.writeFile(img, new Uint8Array(32 * 1024 * 1024));
    await sh("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "sh");
    try {
      // Every byte written to the terminal, \r redraws included, goes to the log.
      await sh("pipe-pane", "-t", session, "-o", `cat >> '${log}'`);
      await sh(
        "send-keys",
        "-t",
        session,
        `cd '${REPO}' && ${labCommandLine(["disk", "read", img, "--sha256"])}; echo "HASHED $?"`,
        "Enter",
      );
      const hashed = await waitPane(/HASHED \d+/);
      assert.match(hashed, /HASHED 0/);
      assert.match(hashed, /^[0-9a-f]{64} {2}\S+zero\.img$/m);
      assert.doesNotMatch(hashed, /hashing/, "the progress line was erased");
      await sh(
        "send-keys",
        "-t",
        session,
        `${labCommandLine(["fuzz", "--target", "driver", "--seed", "1", "--ops", "3000"])}; ` +
          `echo "FUZZED $?"`,
        "Enter",
      );
      const fuzzed = await waitPane(/FUZZED \d+/);
      assert.match(fuzzed, /FUZZED 0/);
      assert.doesNotMatch(fuzzed, /fuzzing:/, "the progress line was erased");
      const src = `${dir}/data.bin`;
      await Deno.writeFile(src, new Uint8Array(16 * 1024 * 1024 + 100).fill(0xa5));
      await sh(
        "send-keys",
        "-t",
        session,
        `${labCommandLine(["disk", "write", img, "--sector", "0", "--from", src])}; ` +
          `echo "WROTE $?"`,
        "Enter",
      );
      const wrote = await waitPane(/WROTE \d+/);
      assert.match(wrote, /WROTE 0/);
      assert.doesNotMatch(wrote, /writing/, "the progress line was erased");
      await sh(
        "send-keys",
        "-t",
        session,
        `VIRTIO_LAB_COURSE='${FIXTURE_ROOT}' VIRTIO_LAB_WORKSPACE='${dir}/workspace' ` +
          `${labCommandLine(["check", "--all"])}; echo "GRADED $?"`,
        "Enter",
      );
      const graded = await waitPane(/GRADED \d+/);
      assert.match(graded, /0 of 2 lessons pass/);
      assert.doesNotMatch(graded, /grading lesson/, "the progress line was erased");
      // Each redraw starts with \r and erase-to-end-of-line (ESC [ K).
      const raw = (await Deno.readTextFile(log)).replaceAll("\r\x1b[K", "<redraw>");
      assert.match(raw, /<redraw>hashing [0-9.]+ [KM]i?B \/ 32 MiB/);
      assert.match(raw, /<redraw>hashing 32 MiB \/ 32 MiB \([0-9.]+ MiB\/s\)/);
      assert.match(raw, /<redraw>fuzzing: [0-9,]+ \/ 3,000 steps/);
      assert.match(raw, /<redraw>fuzzing: 3,000 \/ 3,000 steps/);
      assert.match(raw, /<redraw>writing 16(?:\.0)? MiB \/ 16(?:\.0)? MiB \([0-9.]+ MiB\/s\)/);
      assert.match(raw, /<redraw>grading lesson 1 \(1 of 2\) · Feature words · 0 passed so far/);
      assert.match(raw, /<redraw>grading lesson 2 \(2 of 2\) · /);
    } finally {
      await sh("kill-session", "-t", session);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
