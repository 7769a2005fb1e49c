/**
 * The `lab` command: `deno task lab [command]`.
 *
 * Each group of commands lives in its own module and registers itself on the
 * program here. Errors meant for the user ({@linkcode UserError}) end in one
 * line on stderr and a non-zero exit; anything else is a bug and keeps its
 * stack trace.
 *
 * @module
 */

import { Command, CommanderError } from "@commander-js/extra-typings";
import denoConfig from "../deno.json" with { type: "json" };
import { UserError } from "./errors.ts";
import { labCommand } from "./invocation.ts";
import { wrapProse } from "./wrap.ts";
import { register as registerBoot } from "./boot.ts";
import { register as registerCompletions } from "./completions.ts";
import { register as registerDisk } from "./disk.ts";
import { register as registerDoctor } from "./doctor.ts";
import { register as registerFuzz } from "./fuzz.ts";
import { register as registerLessons } from "./lessons.ts";
import { runFromLocalCopy } from "./remote.ts";
import { LOADED_FROM_FILES } from "../course/paths.ts";

/** The course's version: `version` in deno.json, what `lab --version` prints. */
export const LAB_VERSION: string = denoConfig.version;

/** Builds the `lab` program with every command registered. */
export function buildProgram(): Promise<Command> {
  // Usage lines show the command as the learner types it: `deno task lab` or `lab`.
  const lab = labCommand();
  const program = new Command()
    .name(lab)
    .description(
      "virtio-lab: learn virtio by building it (virtio-mmio, split virtqueues, console, block)",
    )
    .version(LAB_VERSION, "-V, --version", "print the version of virtio-lab")
    .showHelpAfterError(`(run \`${lab} --help\` for usage)`)
    .addHelpText("after", () =>
      "\n" + [
        `Start with \`${lab}\` (where you stand and what to do next), then \`${lab} show\`, ` +
        `\`${lab} check\` and \`${lab} hint\`: each works on the current lesson unless given one.`,
        `Details of a command: ${lab} help COMMAND. Tab completion: ${lab} completions bash|zsh|fish.`,
      ].map((line) => wrapProse(line)).join("\n"))
    .exitOverride();
  const registrations: ((program: Command) => void)[] = [
    registerBoot,
    registerDisk,
    registerDoctor,
    registerFuzz,
    registerLessons,
    (p) => registerCompletions(p, LAB_VERSION),
  ];
  for (const register of registrations) register(program);
  return Promise.resolve(program);
}

/**
 * Runs the `lab` command line.
 *
 * @param args Arguments after the command name.
 * @returns The process exit status.
 */
export async function main(args: string[]): Promise<number> {
  const program = await buildProgram();
  // With no arguments, `lab` shows where the learner stands (cli/lessons.ts).
  if (args.length === 0 && program.commands.some((c) => c.name() === "status")) args = ["status"];
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed its message (help, version, usage error).
      return error.code === "commander.helpDisplayed" || error.code === "commander.help" ||
          error.code === "commander.version"
        ? 0
        : error.exitCode || 2;
    }
    if (error instanceof UserError) {
      console.error(`lab: ${error.message}`);
      return error.exitCode;
    }
    // A file the command could not read or write that no check above named:
    // still one line, never a stack trace.
    if (
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.IsADirectory
    ) {
      console.error(`lab: ${error.message.split("\n")[0]}`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) {
  // Loaded from a URL: run the local copy of the course instead (cli/remote.ts).
  if (!LOADED_FROM_FILES) {
    try {
      Deno.exit(await runFromLocalCopy(Deno.args));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      console.error(`lab: ${error.message}`);
      Deno.exit(error.exitCode);
    }
  }
  const code = await main(Deno.args);
  // Exit explicitly: a pending read of stdin (the terminal console backend's)
  // cannot be cancelled and would keep the process alive after `boot` is done.
  // A command may have set Deno.exitCode itself (a failed check); keep it.
  Deno.exit(code !== 0 ? code : Deno.exitCode);
}
