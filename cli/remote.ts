/**
 * `lab` loaded from a URL (`deno install -g jsr:@virtio-lab/virtio-lab/cli`,
 * or `deno run https://.../cli/main.ts`) rather than from a clone: the
 * course must be on disk (see `course/paths.ts`), so the command copies the
 * package into its cache once and runs the copy, exactly as a clone runs,
 * with the learner's workspace outside the cache.
 *
 * @module
 */

import * as path from "node:path";
import {
  CourseFetchError,
  defaultWorkspaceDir,
  prepareCourse,
  REPO_ROOT,
  WORKSPACE_ENV,
} from "../course/paths.ts";
import { UserError } from "./errors.ts";

/** The permissions of `deno task lab`, passed on when this process has them. */
const LAB_PERMISSIONS: readonly { name: Deno.PermissionName; flag: string }[] = [
  { name: "read", flag: "--allow-read" },
  { name: "write", flag: "--allow-write" },
  { name: "env", flag: "--allow-env" },
  { name: "run", flag: "--allow-run" },
  { name: "net", flag: "--allow-net" },
];

/**
 * The command line that runs the local copy of the course's `lab` with the
 * permissions this process was granted (each of `read`, `write`, `env`,
 * `run`, `net` granted in full, and `sys=hostname`).
 *
 * @param copy The local copy's root.
 * @param args The arguments given to `lab`.
 */
export function localCopyCommand(copy: string, args: readonly string[]): string[] {
  const flags = LAB_PERMISSIONS
    .filter((p) =>
      Deno.permissions.querySync({ name: p.name } as Deno.PermissionDescriptor).state === "granted"
    )
    .map((p) => p.flag);
  const hostname =
    Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted";
  return [
    "run",
    ...flags,
    ...(hostname ? ["--allow-sys=hostname"] : []),
    `--config=${path.join(copy, "deno.json")}`,
    path.join(copy, "cli", "main.ts"),
    ...args,
  ];
}

/**
 * Copies the course into the cache if it is not there yet, then runs the
 * copy's `lab` with the same arguments, in the foreground.
 *
 * @param args The arguments given to `lab`.
 * @returns The exit status of the copy's `lab`.
 * @throws {UserError} If the copy cannot be made.
 */
export async function runFromLocalCopy(args: readonly string[]): Promise<number> {
  try {
    await prepareCourse();
  } catch (error) {
    if (error instanceof CourseFetchError) {
      throw new UserError(`cannot copy the course to ${REPO_ROOT}: ${error.message}`);
    }
    throw error;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: localCopyCommand(REPO_ROOT, args),
    env: { [WORKSPACE_ENV]: defaultWorkspaceDir() },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  return status.code;
}
