/**
 * `lab doctor`: what this machine has of the tools the course uses, what is
 * missing, and how to get each (Debian package names). It only looks: it
 * installs nothing and always exits 0.
 *
 * The tools: Deno (against the version CI pins), Jupyter and Deno's Jupyter
 * kernel (`lab notebook`), tmux and socat (the terminal and socket consoles
 * of `lab boot`, and their tests), and mkfs.ext2 (disk images for
 * `lab boot --disk`).
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { colorEnabled, painter } from "../course/report.ts";
import { JUPYTER_PACKAGES } from "./lesson/notebook.ts";

/** The Deno version CI installs and tests with (`DENO_VERSION` in `.ci/run`). */
export const PINNED_DENO_VERSION = "2.9.6";

/** What one program run printed, or `null` when the program is not there. */
export type ProbeOutput = { ok: boolean; stdout: string; stderr: string } | null;

/** How the doctor looks at the machine (a fake one in tests). */
export interface DoctorProbe {
  /** The running Deno's version (`Deno.version.deno`). */
  readonly denoVersion: string;
  /** Runs a program to completion; `null` when it cannot be found. */
  run(cmd: string, args: string[]): Promise<ProbeOutput>;
  /** Full path of a program, or `null` when it is not installed. */
  which(name: string): string | null;
}

/** One finding of {@linkcode diagnose}. */
export interface DoctorFinding {
  /** The tool, as a user would type it. */
  readonly tool: string;
  /** `ok`; `outdated` (there, but not what CI uses); `missing`. */
  readonly state: "ok" | "outdated" | "missing";
  /** What was found: a version, a path; or what is wrong. */
  readonly found: string;
  /** What the course uses it for. */
  readonly usedFor: string;
  /** How to get it (or fix it); `null` when it is fine. */
  readonly fix: string | null;
}

const apt = (packages: string) => `sudo apt-get install ${packages}`;

/** The first line of a program's output that matches `pattern`, or its first line. */
function versionLine(out: ProbeOutput, pattern?: RegExp): string {
  const text = `${out?.stdout ?? ""}\n${out?.stderr ?? ""}`;
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  return (pattern ? lines.find((l) => pattern.test(l)) : undefined) ?? lines[0] ?? "";
}

interface KernelSpecs {
  kernelspecs?: Record<string, { resource_dir?: string; spec?: { env?: Record<string, string> } }>;
}

/**
 * Looks at every tool the course uses.
 *
 * @param probe How to look (default: this machine).
 * @returns One finding per tool, in a fixed order: deno, jupyter, the Deno
 *   kernel, tmux, socat, mkfs.ext2.
 */
export async function diagnose(probe: DoctorProbe = machineProbe()): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  const deno = probe.denoVersion;
  findings.push({
    tool: "deno",
    state: deno === PINNED_DENO_VERSION ? "ok" : "outdated",
    found: deno === PINNED_DENO_VERSION
      ? `deno ${deno}`
      : `deno ${deno}, but CI pins ${PINNED_DENO_VERSION}`,
    usedFor: "everything (the lab, the graders, the tests)",
    fix: deno === PINNED_DENO_VERSION
      ? null
      : `npm install -g deno@${PINNED_DENO_VERSION} (as .ci/run does; Debian has no deno package)`,
  });

  const jupyterUse = "lab notebook: the lessons as Jupyter notebooks";
  const listed = probe.which("jupyter") === null
    ? null
    : await probe.run("jupyter", ["kernelspec", "list", "--json"]);
  let specs: KernelSpecs | null = null;
  if (listed?.ok) {
    try {
      specs = JSON.parse(listed.stdout) as KernelSpecs;
    } catch {
      specs = null;
    }
  }
  if (specs === null) {
    findings.push({
      tool: "jupyter",
      state: "missing",
      found: listed === null ? "not installed" : "`jupyter kernelspec list --json` failed",
      usedFor: jupyterUse,
      fix: apt(JUPYTER_PACKAGES),
    });
    findings.push({
      tool: "deno jupyter kernel",
      state: "missing",
      found: "needs jupyter first",
      usedFor: "running the notebooks' TypeScript cells",
      fix: "install jupyter, then: deno task lab notebook (or deno jupyter --install)",
    });
  } else {
    const version = await probe.run("jupyter", ["--version"]);
    findings.push({
      tool: "jupyter",
      state: "ok",
      found: versionLine(version, /^jupyter_core\s*:/).replace(/\s*:\s*/, " ") ||
        probe.which("jupyter")!,
      usedFor: jupyterUse,
      fix: null,
    });
    const kernel = specs.kernelspecs?.deno;
    findings.push(
      kernel
        ? {
          tool: "deno jupyter kernel",
          state: "ok",
          found: `${kernel.resource_dir ?? "registered"}` +
            (kernel.spec?.env?.NO_COLOR ? "" : " (without NO_COLOR: values print colour codes)"),
          usedFor: "running the notebooks' TypeScript cells",
          fix: null,
        }
        : {
          tool: "deno jupyter kernel",
          state: "missing",
          found: "jupyter has no kernel named deno",
          usedFor: "running the notebooks' TypeScript cells",
          fix: "deno task lab notebook (installs it), or deno jupyter --install",
        },
    );
  }

  const tools: [
    tool: string,
    args: string[],
    pattern: RegExp | undefined,
    use: string,
    pkg: string,
  ][] = [
    ["tmux", ["-V"], undefined, "the tests that drive lab boot in a real terminal", "tmux"],
    [
      "socat",
      ["-V"],
      /^socat version/,
      "connecting to lab boot --console-socket (socat -,rawer UNIX-CONNECT:PATH)",
      "socat",
    ],
    ["mkfs.ext2", ["-V"], /^mke2fs/, "ext2 disk images for lab boot --disk", "e2fsprogs"],
  ];
  for (const [tool, args, pattern, usedFor, pkg] of tools) {
    const path = probe.which(tool);
    const out = path === null ? null : await probe.run(path, args);
    findings.push(
      path === null || out === null
        ? { tool, state: "missing", found: "not installed", usedFor, fix: apt(pkg) }
        : {
          tool,
          state: "ok",
          found: `${versionLine(out, pattern)} (${path})`,
          usedFor,
          fix: null,
        },
    );
  }
  return findings;
}

/**
 * The real machine: programs on `PATH` (and `/usr/sbin`, `/sbin`, where
 * mkfs.ext2 lives and which a normal user's `PATH` often lacks).
 */
export function machineProbe(): DoctorProbe {
  return {
    denoVersion: Deno.version.deno,
    async run(cmd, args) {
      try {
        const out = await new Deno.Command(cmd, {
          args,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const decode = (b: Uint8Array) => new TextDecoder().decode(b);
        return { ok: out.success, stdout: decode(out.stdout), stderr: decode(out.stderr) };
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    },
    which(name) {
      const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
      for (const dir of [...dirs, "/usr/sbin", "/sbin"]) {
        const file = `${dir}/${name}`;
        try {
          const info = Deno.statSync(file);
          if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return file;
        } catch { /* not here */ }
      }
      return null;
    },
  };
}

/**
 * The report as lines: one per tool, then the fixes.
 *
 * @param findings From {@linkcode diagnose}.
 * @param color Whether to colour the states.
 */
export function formatDoctor(findings: readonly DoctorFinding[], color: boolean): string[] {
  const p = painter(color);
  const word = { ok: p.green("ok"), outdated: p.yellow("outdated"), missing: p.red("missing") };
  const toolWidth = Math.max(...findings.map((f) => f.tool.length));
  const lines = ["What the course uses, and what this machine has:", ""];
  for (const f of findings) {
    lines.push(
      `  ${word[f.state]}${" ".repeat(9 - f.state.length)}${f.tool.padEnd(toolWidth)}  ${f.found}`,
    );
    lines.push(`  ${" ".repeat(9 + toolWidth)}  ${p.dim(`for ${f.usedFor}`)}`);
  }
  const fixes = findings.filter((f) => f.fix !== null);
  lines.push("");
  if (fixes.length === 0) {
    lines.push("Everything the course uses is here.");
  } else {
    lines.push(`To get what is missing (${fixes.length} of ${findings.length}):`);
    for (const f of fixes) lines.push(`  ${f.tool.padEnd(toolWidth)}  ${f.fix}`);
  }
  return lines;
}

/** Registers `doctor`. */
export function register(program: Command): void {
  program
    .command("doctor")
    .description("what this machine has of the tools the course uses, and how to get the rest")
    .action(async () => {
      for (const line of formatDoctor(await diagnose(), colorEnabled())) console.log(line);
    });
}
