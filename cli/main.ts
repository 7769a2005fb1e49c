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
import { UserError } from "./errors.ts";

/** Builds the `lab` program with every command registered. */
export async function buildProgram(): Promise<Command> {
  const program = new Command()
    .name("lab")
    .description(
      "virtio-lab: learn virtio by building it (virtio-mmio, split virtqueues, console, block)",
    )
    .showHelpAfterError("(run `deno task lab --help` for usage)")
    .exitOverride();
  const registrations: ((program: Command) => void)[] = [];
  for (const module of ["./boot.ts", "./disk.ts", "./lessons.ts"]) {
    try {
      const mod = await import(module) as { register?: (program: Command) => void };
      if (mod.register) registrations.push(mod.register);
    } catch (error) {
      // A command module that is not written yet must not take the others down.
      if (!(error instanceof TypeError && String(error.message).includes("Module not found"))) {
        throw error;
      }
    }
  }
  for (const register of registrations) register(program);
  return program;
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
    throw error;
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
