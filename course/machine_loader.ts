/**
 * Loads the lab machine (`machine.ts` at the repository root) for the REPL
 * and the notebooks without a static import, so the engine keeps working
 * (and type-checks) while the machine is being written, and code that only
 * needs memory still gets some.
 *
 * The contract relied on: `createMachine(options?): Promise<LabMachine>`
 * where a `LabMachine` has at least `memory`, `bus`, `log`, `console`,
 * `blk` and `close()`.
 *
 * @module
 */

import * as path from "node:path";
import type { GuestMemory } from "../memory/guest_memory.ts";
import type { ConformanceLog } from "../spec/conformance.ts";
import { fileUrl, REPO_ROOT } from "./paths.ts";

/** What the engine relies on of a lab machine. */
export interface LabMachineLike {
  /** Guest RAM. */
  readonly memory: GuestMemory;
  /** The MMIO bus. */
  readonly bus: unknown;
  /** The conformance log every layer reports to. */
  readonly log: ConformanceLog;
  /** The console device and driver. */
  readonly console: unknown;
  /** The block device and driver. */
  readonly blk: unknown;
  /** Stops the machine and releases its backends. */
  close(): void | Promise<void>;
}

/** The part of `machine.ts` the engine uses. */
export interface MachineModule {
  /** Builds a ready machine. */
  createMachine(options?: Record<string, unknown>): Promise<LabMachineLike>;
}

/**
 * Imports `machine.ts` from the repository.
 *
 * @param root The repository root (default: this one).
 * @returns The module, or `null` (with the reason) when it does not exist yet or fails to load.
 */
export async function loadMachineModule(
  root: string = REPO_ROOT,
): Promise<{ module: MachineModule | null; problem: string }> {
  const file = path.join(root, "machine.ts");
  try {
    Deno.statSync(file);
  } catch {
    return { module: null, problem: "machine.ts is not in this checkout yet" };
  }
  try {
    const specifier = fileUrl(file);
    const mod = await import(specifier) as Partial<MachineModule>;
    if (typeof mod.createMachine !== "function") {
      return { module: null, problem: "machine.ts does not export createMachine()" };
    }
    return { module: mod as MachineModule, problem: "" };
  } catch (error) {
    return {
      module: null,
      problem: `machine.ts failed to load: ${(error as Error).message.split("\n")[0]}`,
    };
  }
}
