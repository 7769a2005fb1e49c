/**
 * Child process for `console_terminal_test.ts`: exercises
 * TerminalConsoleBackend on the process's real stdin/stdout and reports what
 * it saw as one JSON line on stderr.
 *
 * Modes (first argument):
 * - `echo`: copy input to output until end of input, then report.
 * - `tty`: on a terminal: report the `stty -g` state before, during and
 *   after raw mode, the size, and a SIGWINCH resize.
 * - `signal`: on a terminal: switch to raw mode and send itself SIGTERM; the
 *   backend must restore the terminal and exit with status 143.
 */

import { TerminalConsoleBackend } from "../../devices/console/backends.ts";

async function stty(...args: string[]): Promise<string> {
  const { stdout } = await new Deno.Command("stty", {
    args: args.length > 0 ? args : ["-g"],
    stdin: "inherit",
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(stdout).trim();
}

function report(value: unknown): void {
  Deno.stderr.writeSync(new TextEncoder().encode(JSON.stringify(value) + "\n"));
}

const mode = Deno.args[0];

if (mode === "echo") {
  const backend = new TerminalConsoleBackend();
  let bytes = 0;
  for (let chunk = await backend.read(); chunk; chunk = await backend.read()) {
    bytes += chunk.length;
    await backend.write(chunk);
  }
  report({ raw: backend.raw, size: backend.size(), bytes });
  await backend.close();
} else if (mode === "tty") {
  const before = await stty();
  const backend = new TerminalConsoleBackend();
  const during = await stty();
  const size = backend.size();
  const resized = new Promise<unknown>((resolve) => backend.onResize(resolve));
  await stty("cols", "120");
  const timeout = new Promise((resolve) => setTimeout(() => resolve("no SIGWINCH"), 3000));
  const resize = await Promise.race([resized, timeout]);
  await backend.close();
  const after = await stty();
  report({ raw: backend.raw, before, during, after, size, resize });
  Deno.exit(0);
} else if (mode === "signal") {
  const before = await stty();
  const backend = new TerminalConsoleBackend();
  const during = await stty();
  report({ raw: backend.raw, before, during });
  Deno.kill(Deno.pid, "SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 5000));
  report({ error: "still running 5 s after SIGTERM" });
} else {
  report({ error: `unknown mode ${mode}` });
  Deno.exit(2);
}
