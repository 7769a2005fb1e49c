/**
 * The fuzz engine in a Worker, for {@linkcode runFuzzSupervised}: it loads
 * the parts to fuzz from a module (functions cannot be posted to a worker),
 * runs {@linkcode runFuzz} and tells the supervisor where it is. Each step
 * writes its place into a `SharedArrayBuffer` the supervisor reads (so a
 * step that never returns is still named: the worker cannot post while it
 * loops); each episode posts the report so far; the end posts the report.
 *
 * Messages in: one {@linkcode FuzzWorkerRequest}. Messages out:
 * `{ kind: "episode", report }`, `{ kind: "done", report }`, or
 * `{ kind: "error", message }` when the run could not start.
 *
 * @module
 */

import { type FuzzOptions, runFuzz } from "./engine.ts";
import type { MachineParts } from "../machine.ts";
import { writeWhere } from "./where.ts";
import type { FuzzTarget } from "./types.ts";

/**
 * The worker's global scope, as much of it as this module uses (typed here
 * rather than with a `lib="deno.worker"` directive, which a published
 * package may not carry).
 */
interface WorkerScope {
  onmessage: ((event: MessageEvent<FuzzWorkerRequest>) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;

/** What the supervisor asks a worker to run. */
export interface FuzzWorkerRequest {
  /** The run's options, without functions. */
  readonly options: Omit<FuzzOptions, "parts" | "onProgress" | "onStep" | "onEpisode">;
  /**
   * A module whose `loadFuzzParts()` returns `{ parts, featureMask? }`: the
   * parts to fuzz (the learner's, or a planted bug), or `null` for the reference.
   */
  readonly partsModule: string | null;
  /** Where each step writes its place (see `fuzz/where.ts`). */
  readonly where: SharedArrayBuffer;
}

/** What a parts module's `loadFuzzParts` returns. */
export interface FuzzPartsModule {
  loadFuzzParts(): Promise<{ readonly parts: MachineParts; readonly featureMask?: bigint }>;
}

scope.onmessage = async (event: MessageEvent<FuzzWorkerRequest>) => {
  const { options, partsModule, where } = event.data;
  let parts: MachineParts | undefined;
  let featureMask = options.featureMask;
  try {
    if (partsModule !== null) {
      const loaded = await (await import(partsModule) as FuzzPartsModule).loadFuzzParts();
      parts = loaded.parts;
      featureMask = loaded.featureMask ?? featureMask;
    }
  } catch (error) {
    scope.postMessage({
      kind: "error",
      message: `Cannot load the parts to fuzz from ${partsModule}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    });
    return;
  }
  const targets = options.targets as readonly FuzzTarget[] | undefined;
  const report = await runFuzz({
    ...options,
    targets,
    parts,
    featureMask,
    onStep: (at) => writeWhere(where, at),
    onEpisode: (snapshot) => scope.postMessage({ kind: "episode", report: snapshot }),
  });
  scope.postMessage({ kind: "done", report });
};
