/** Runs the `lab` command as a user would (`deno task lab ...`), as a subprocess. */

import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** The permissions of the `lab` task in deno.json. */
const LAB_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net",
  "--allow-sys=hostname",
  "--allow-ffi",
];

export interface LabResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `lab ARGS...`, optionally feeding stdin. */
export async function lab(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<LabResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...LAB_FLAGS, "cli/main.ts", ...args],
    cwd: REPO,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** A `lab` process left running: its stdin to type into, its stdout to wait on. */
export interface RunningLab {
  /** Waits until stdout has printed something matching `pattern`; returns all of stdout so far. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Types a line. */
  type(line: string): Promise<void>;
  /** Closes stdin and waits for the exit. */
  finish(): Promise<LabResult>;
}

/** Starts `lab ARGS...` and leaves it running (for a test of what happens meanwhile). */
export function startLab(args: string[], env: Record<string, string> = {}): RunningLab {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...LAB_FLAGS, "cli/main.ts", ...args],
    cwd: REPO,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const writer = child.stdin.getWriter();
  const decoder = new TextDecoder();
  let stdout = "";
  let stderr = "";
  const pump = async (stream: ReadableStream<Uint8Array>, into: (s: string) => void) => {
    for await (const chunk of stream) into(decoder.decode(chunk, { stream: true }));
  };
  const pumps = Promise.all([
    pump(child.stdout, (s) => (stdout += s)),
    pump(child.stderr, (s) => (stderr += s)),
  ]);
  return {
    async waitFor(pattern, timeoutMs = 15_000) {
      const start = performance.now();
      while (!pattern.test(stdout)) {
        if (performance.now() - start > timeoutMs) {
          throw new Error(`lab ${args.join(" ")} never printed ${pattern}: ${stdout}${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return stdout;
    },
    async type(line) {
      await writer.write(new TextEncoder().encode(line + "\n"));
    },
    async finish() {
      await writer.close();
      const { code } = await child.status;
      await pumps;
      return { code, stdout, stderr };
    },
  };
}

/** The command line a user would type, for tmux. */
export function labCommandLine(args: string[]): string {
  return [Deno.execPath(), "run", ...LAB_FLAGS, `${REPO}cli/main.ts`, ...args].map((a) => `'${a}'`)
    .join(" ");
}

/** Path of mkfs.ext2, or null when e2fsprogs is not installed. */
export function findMkfsExt2(): string | null {
  for (const p of ["/sbin/mkfs.ext2", "/usr/sbin/mkfs.ext2", "/usr/bin/mkfs.ext2"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* keep looking */ }
  }
  return null;
}

/** Makes a fresh ext2 image of `mib` MiB with mkfs.ext2. */
export async function makeExt2Image(path: string, mib: number): Promise<void> {
  const mkfs = findMkfsExt2();
  if (!mkfs) throw new Error("mkfs.ext2 (e2fsprogs) is not installed");
  const f = await Deno.open(path, { create: true, write: true, truncate: true });
  await f.truncate(mib * 1024 * 1024);
  f.close();
  const out = await new Deno.Command(mkfs, {
    args: ["-q", "-F", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`mkfs.ext2 failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** Whether an external tool is on PATH. */
export function hasTool(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

/** Skip a test for a missing tool, except under CI where the tool must be there. */
export function requireTool(available: boolean, what: string): { ignore: boolean } {
  if (!available && Deno.env.get("CI")) {
    throw new Error(`${what} is required under CI (.ci/run installs it)`);
  }
  if (!available) console.warn(`skipping: ${what} is not installed`);
  return { ignore: !available };
}

/** No stack trace, one line on stderr: the contract for bad user input. */
export function assertOneLineError(result: LabResult): string {
  const lines = result.stderr.trim().split("\n");
  if (result.code === 0) {
    throw new Error(`expected a non-zero exit, got 0; stderr: ${result.stderr}`);
  }
  if (
    lines.length !== 1 || /\bat .*:\d+:\d+/.test(result.stderr) || /Uncaught/.test(result.stderr)
  ) {
    throw new Error(`expected one clean line on stderr, got:\n${result.stderr}`);
  }
  return lines[0];
}
