/**
 * How the learner runs the `lab` command, so help and usage lines show what
 * they would type: `deno task lab` from a clone (`deno task` sets
 * `INIT_CWD`), or `lab` once installed with `deno install -g -n lab ...`.
 *
 * @module
 */

/**
 * The command line prefix that runs `lab` here.
 *
 * @param env Reads an environment variable (default `Deno.env.get`).
 * @returns `"deno task lab"` under `deno task`, else `"lab"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { labCommand } from "./invocation.ts";
 * assert.equal(labCommand((name) => (name === "INIT_CWD" ? "/home/me/virtio-lab" : undefined)), "deno task lab");
 * assert.equal(labCommand(() => undefined), "lab");
 * ```
 */
export function labCommand(env: (name: string) => string | undefined = safeEnv): string {
  return env("INIT_CWD") ? "deno task lab" : "lab";
}

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
