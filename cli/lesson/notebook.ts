/**
 * `lab notebook [N]`: installs Deno's Jupyter kernel if it is missing, copies
 * the lesson's notebook into the workspace (once: the copy is the learner's,
 * and course updates never overwrite it), and opens that copy in Jupyter on
 * a terminal, or says how to open it.
 *
 * @module
 */

import * as path from "node:path";
import type { Lesson } from "../../course/manifest.ts";
import { copyNotebookToWorkspace, generateNotebook } from "../../course/notebooks.ts";
import { colorEnabled, painter } from "../../course/report.ts";
import { REPO_ROOT } from "../../course/paths.ts";
import { UserError } from "../errors.ts";
import type { LabContext } from "./context.ts";

/** The Debian packages that provide Jupyter (to run and to open notebooks). */
export const JUPYTER_PACKAGES =
  "jupyter-notebook jupyter-client python3-nbclient python3-nbformat python3-nbconvert";

async function output(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; stdout: string; stderr: string } | null> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    return {
      ok: out.success,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

interface KernelSpecs {
  kernelspecs: Record<
    string,
    { resource_dir: string; spec: { argv: string[]; env?: Record<string, string> } }
  >;
}

/** Options of {@linkcode notebook}. */
export interface NotebookOptions {
  /**
   * Start Jupyter on the copy (default: when stdin and stdout are a
   * terminal and Jupyter's notebook UI is installed); `false` only prints
   * how to open it.
   */
  readonly open?: boolean;
}

/**
 * Makes sure the Deno kernel is installed (with `NO_COLOR=1` so values print
 * without escape codes), copies the lesson's notebook into the workspace if
 * it is not there yet, and opens the copy (or prints how to).
 *
 * @param ctx Course and workspace.
 * @param lesson The lesson.
 * @param options Whether to start Jupyter.
 * @throws {UserError} When Jupyter is not installed (naming the packages to install).
 */
export async function notebook(
  ctx: LabContext,
  lesson: Lesson,
  options: NotebookOptions = {},
): Promise<void> {
  const p = painter(colorEnabled());
  const listed = await output("jupyter", ["kernelspec", "list", "--json"]);
  if (!listed) {
    throw new UserError(
      `Jupyter is not installed. On Debian or Ubuntu: sudo apt-get install ${JUPYTER_PACKAGES} ` +
        `(or open ${
          path.relative(Deno.cwd(), lesson.paths.notebook)
        } in VS Code with its Jupyter extension)`,
    );
  }
  let specs: KernelSpecs = { kernelspecs: {} };
  try {
    specs = JSON.parse(listed.stdout) as KernelSpecs;
  } catch {
    // older jupyter without --json: treat as none installed
  }
  let deno = specs.kernelspecs.deno;
  if (!deno) {
    console.log("Installing the Deno kernel for Jupyter (deno jupyter --install)...");
    const installed = await output(Deno.execPath(), ["jupyter", "--install"]);
    if (!installed?.ok) {
      throw new UserError(
        `deno jupyter --install failed: ${installed?.stderr.trim().split("\n").at(-1) ?? "?"}`,
        1,
      );
    }
    const again = await output("jupyter", ["kernelspec", "list", "--json"]);
    deno = (JSON.parse(again?.stdout ?? "{}") as KernelSpecs).kernelspecs?.deno;
  }
  if (deno && deno.spec.env?.NO_COLOR !== "1") {
    const file = path.join(deno.resource_dir, "kernel.json");
    try {
      const spec = JSON.parse(Deno.readTextFileSync(file)) as Record<string, unknown>;
      spec.env = { ...(spec.env as Record<string, string> | undefined), NO_COLOR: "1" };
      Deno.writeTextFileSync(file, `${JSON.stringify(spec, null, 2)}\n`);
    } catch (error) {
      console.error(`lab: warning: could not set NO_COLOR in ${file}: ${(error as Error).message}`);
    }
  }
  console.log(`${p.green("✔")} Deno kernel for Jupyter: ${deno ? deno.resource_dir : "installed"}`);
  const nb = lesson.paths.notebook;
  const courseCopy = path.relative(Deno.cwd(), nb) || nb;
  let current = false;
  try {
    current = Deno.readTextFileSync(nb) === generateNotebook(ctx.course, lesson);
  } catch {
    current = false;
  }
  if (!current) {
    console.log(
      p.yellow(
        `${courseCopy} is missing or out of date: run deno task notebooks to regenerate it.`,
      ),
    );
  }
  const copy = await copyNotebookToWorkspace(ctx.course, ctx.workspace, lesson);
  const shown = path.relative(Deno.cwd(), copy.file) || copy.file;
  console.log(
    copy.created
      ? `${p.green("✔")} Your copy of the notebook: ${shown} (from ${courseCopy}; yours to run ` +
        `and edit, course updates never overwrite it)`
      : `${p.green("✔")} Your copy of the notebook: ${shown}`,
  );
  if (copy.courseChanged) {
    console.log(
      p.yellow(
        `  The course's ${courseCopy} changed since you copied it. To start again from it, ` +
          `move your copy away and run lab notebook ${lesson.number} again.`,
      ),
    );
  }
  const hasLab = await output("jupyter", ["lab", "--version"]);
  const hasNotebook = await output("jupyter", ["notebook", "--version"]);
  const ui = hasNotebook?.ok ? "notebook" : hasLab?.ok ? "lab" : null;
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  if (ui && (options.open ?? interactive)) {
    console.log(`Opening it: jupyter ${ui} ${shown} (ctrl+c twice stops the server)`);
    const status = await new Deno.Command("jupyter", {
      args: [ui, copy.file],
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!status.success && status.signal === null) {
      throw new UserError(`jupyter ${ui} exited with status ${status.code}`, status.code);
    }
    return;
  }
  console.log(`Open lesson ${lesson.number} (${lesson.title}):`);
  if (hasLab?.ok) console.log(`  jupyter lab ${shown}`);
  if (hasNotebook?.ok) console.log(`  jupyter notebook ${shown}`);
  if (!ui) {
    console.log(
      `  Jupyter's notebook UI is not installed: sudo apt-get install jupyter-notebook, then`,
    );
    console.log(`  jupyter notebook ${shown}`);
  }
  console.log(`  or in VS Code: open ${shown} and pick the "Deno" kernel`);
  const runner = path.relative(Deno.cwd(), path.join(REPO_ROOT, "tools", "run_notebooks.py"));
  console.log(
    p.dim(
      `Run it headless (as CI does): /usr/bin/python3 ${runner} --deno ${Deno.execPath()} ${shown}`,
    ),
  );
}
