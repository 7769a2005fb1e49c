import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const child = fileURLToPath(new URL("./_terminal_child.ts", import.meta.url));
const deno = Deno.execPath();

/** The JSON line the child reported on stderr. */
function report(stderr: Uint8Array): Record<string, unknown> {
  const lines = new TextDecoder().decode(stderr).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

async function hasScript(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("script", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return success;
  } catch {
    return false;
  }
}

/** Runs a shell command line on a fresh pseudo-terminal (util-linux `script`). */
async function onPty(commandLine: string): Promise<{ code: number; output: string }> {
  const { code, stdout } = await new Deno.Command("script", {
    args: ["-qec", commandLine, "/dev/null"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code, output: new TextDecoder().decode(stdout) };
}

function jsonLines(output: string): Record<string, unknown>[] {
  return output.split(/\r?\n/).map((l) => l.replace(/^[^{]*/, "")).filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

Deno.test("terminal console: piped stdin is used as is (no raw mode, no size) and echoed to stdout", async () => {
  const process = new Deno.Command(deno, {
    args: ["run", "--allow-run", "--allow-read", child, "echo"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = process.stdin.getWriter();
  await writer.write(new TextEncoder().encode("hello\nworld\n"));
  await writer.close();
  const { code, stdout, stderr } = await process.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.equal(new TextDecoder().decode(stdout), "hello\nworld\n");
  assert.deepEqual(report(stderr), { raw: false, size: null, bytes: 12 });
});

const script = await hasScript();
if (!script) {
  console.log("util-linux `script` not found: terminal raw-mode tests skipped");
}

Deno.test({
  name:
    "terminal console: on a terminal, raw mode is set, then restored by close; size and SIGWINCH are reported",
  ignore: !script,
  fn: async () => {
    const { code, output } = await onPty(
      `stty cols 100 rows 30; '${deno}' run --allow-run --allow-read '${child}' tty`,
    );
    assert.equal(code, 0, output);
    const [result] = jsonLines(output);
    assert.equal(result.raw, true, output);
    assert.notEqual(result.during, result.before, "raw mode changed the terminal settings");
    assert.equal(result.after, result.before, "close() restored them");
    assert.deepEqual(result.size, { cols: 100, rows: 30 });
    assert.deepEqual(result.resize, { cols: 120, rows: 30 });
  },
});

Deno.test({
  name: "terminal console: SIGTERM in raw mode restores the terminal and exits with 143",
  ignore: !script,
  fn: async () => {
    const { output } = await onPty(
      `'${deno}' run --allow-run --allow-read '${child}' signal; echo "{\\"exit\\": $?}"; ` +
        `echo "{\\"final\\": \\"$(stty -g)\\"}"`,
    );
    const lines = jsonLines(output);
    const state = lines.find((l) => "before" in l)!;
    assert.ok(state, output);
    assert.equal(state.raw, true);
    assert.notEqual(state.during, state.before);
    assert.deepEqual(lines.find((l) => "exit" in l), { exit: 143 }, output);
    assert.equal(lines.find((l) => "final" in l)?.final, state.before, output);
    assert.equal(lines.some((l) => "error" in l), false, output);
  },
});
