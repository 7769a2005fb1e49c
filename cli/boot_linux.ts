/**
 * `lab boot --linux [--disk IMG] [--read-only] [--mine] [--console-socket PATH] [--verbose]`:
 * boots a real Linux kernel (Debian's i386 build, in the v86 emulator) on the
 * lab's TypeScript virtio devices (`linux/machine.ts`). Its console is
 * `hvc0` on the lab's virtio-console, attached to this terminal (raw mode)
 * or a Unix socket; its disk is `vda` on the lab's virtio-blk. The kernel's
 * own messages go to the emulated serial port: shown with `--verbose`, and
 * the last of them when the boot fails. `poweroff` in the guest ends the
 * command with status 0.
 *
 * @module
 */

import { ensureLinuxAssets, type LinuxAssets, LinuxAssetsError } from "../linux/assets.ts";
import { createLinuxMachine, type LinuxMachine } from "../linux/machine.ts";
import { EmulatorError, V86_VERSION } from "../linux/v86_adapter.ts";
import type { BlockBackend } from "../devices/blk/backends.ts";
import type { ConsoleBackend } from "../devices/console/backends.ts";
import type { MachineParts } from "../machine.ts";
import { formatSize } from "../guest/shell.ts";
import { EXIT_FAILURE, UserError } from "./errors.ts";
import { describeLearnerParts, learnerParts } from "./learner_parts.ts";
import { openImage } from "./disk_image.ts";
import { consoleBackend } from "./boot.ts";

/** Options for {@linkcode bootLinux}. */
export interface BootLinuxOptions {
  /** Disk image path, or `undefined` for the built-in disk. */
  readonly disk?: string;
  /** Serve the image read-only. */
  readonly readOnly?: boolean;
  /** Unix socket path for the console, or `undefined` for the terminal. */
  readonly consoleSocket?: string;
  /** Use the learner's parts from every passed lesson. */
  readonly mine?: boolean;
  /** Show the kernel's serial console on stderr. */
  readonly verbose?: boolean;
  /** Boot from the BIOS even when a saved state could be resumed (and save none). */
  readonly cold?: boolean;
  /**
   * Give up when the console has said nothing this long after the start, in
   * milliseconds (default: 120 000 when resuming the saved state, 600 000
   * from the BIOS: an emulated cold boot on a busy machine takes minutes).
   */
  readonly bootTimeoutMs?: number;
}

/** The saved guest state in the Linux cache (see `LinuxMachineOptions.snapshotFile`). */
export const GUEST_STATE_FILE = "guest-state.bin";

/** How many serial lines a failure shows. */
const FAILURE_LINES = 12;

/**
 * Boots Linux and runs until the guest powers off.
 *
 * @throws {UserError} When the guest software cannot be made, the emulator
 *   fails, the kernel panics or never reaches its console, or no virtio
 *   console comes up (with the conformance log's first entry).
 */
export async function bootLinux(options: BootLinuxOptions): Promise<void> {
  const say = (line: string) => console.error(`lab: ${line}`);
  let assets: LinuxAssets;
  try {
    assets = await ensureLinuxAssets({ say });
  } catch (error) {
    if (error instanceof LinuxAssetsError) {
      throw new UserError(
        `cannot make the Linux guest: ${error.message}${error.hint ? `; ${error.hint}` : ""}`,
        EXIT_FAILURE,
      );
    }
    throw error;
  }
  let parts: MachineParts | undefined;
  let featureMask: bigint | undefined;
  if (options.mine) {
    const mine = await learnerParts();
    if (mine.used.length === 0) {
      throw new UserError(
        "no lesson passes yet, so there is none of your code to run: deno task lab check 1",
      );
    }
    parts = mine.parts;
    featureMask = mine.featureMask;
    for (const line of describeLearnerParts(mine)) say(line);
    say("Linux is the driver: your device-side parts serve it");
  }
  let disk: BlockBackend | undefined;
  let diskLabel = "the built-in 4 MiB disk";
  if (options.disk !== undefined) {
    const image = await openImage(options.disk, { readOnly: options.readOnly ?? false });
    disk = image;
    diskLabel = `${options.disk}, ${formatSize(image.size)}${image.readOnly ? ", read-only" : ""}`;
  }
  let backend: ConsoleBackend;
  try {
    backend = await consoleBackend(options.consoleSocket);
  } catch (error) {
    await disk?.close();
    throw error;
  }
  const images = {
    bios: await Deno.readFile(assets.bios),
    kernel: await Deno.readFile(assets.kernel),
    initramfs: await Deno.readFile(assets.initramfs),
  };
  const rawTerminal = options.consoleSocket === undefined && Deno.stdin.isTerminal();
  const encoder = new TextEncoder();
  let machine: LinuxMachine;
  try {
    machine = await createLinuxMachine({
      images,
      disk,
      console: backend,
      parts,
      featureMask,
      snapshotFile: options.cold ? undefined : `${assets.dir}/${GUEST_STATE_FILE}`,
      onSerial: options.verbose
        ? (text) => {
          const out = rawTerminal ? text.replace(/\r?\n/g, "\r\n") : text;
          Deno.stderr.writeSync(encoder.encode(out));
        }
        : undefined,
      onError: (error, where) => {
        const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        Deno.stderr.writeSync(encoder.encode(`virtio-lab: ${where}: ${what}\r\n`));
      },
    });
  } catch (error) {
    await backend.close().catch(() => {});
    await disk?.close();
    if (error instanceof EmulatorError) throw new UserError(error.message, EXIT_FAILURE);
    throw error;
  }
  say(
    `${machine.resumed ? "resuming" : "booting"} Linux ${assets.release} in v86 ${V86_VERSION}` +
      `${machine.resumed ? " from its saved state" : ""}: console hvc0, disk vda (${diskLabel})` +
      (rawTerminal ? "; type 'poweroff' in the guest to end" : ""),
  );
  if (!machine.resumed && !options.cold) {
    say("first boot from the BIOS (slow: the kernel decompresses itself); later boots resume");
  }
  machine.start();
  const timeoutMs = options.bootTimeoutMs ?? (machine.resumed ? 120_000 : 600_000);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const consoleDevice = machine.console.device;
  const silent = new Promise<"timeout">((resolve) => {
    const check = () => {
      if (consoleDevice.stats.bytesOut > 0) return;
      if (performance.now() - machine.startedAt > timeoutMs) resolve("timeout");
      else timer = setTimeout(check, 500);
    };
    timer = setTimeout(check, 500);
  });
  const how = await Promise.race([machine.exited, silent]);
  clearTimeout(timer);
  const consoleUp = consoleDevice.stats.bytesOut > 0;
  const tail = machine.serialTail().slice(-FAILURE_LINES);
  const firstRule = machine.log.entries[0];
  const rule = firstRule ? `; first rule broken: §${firstRule.id} ${firstRule.message}` : "";
  await machine.snapshotSaved;
  await machine.close();
  const explain = (message: string): never => {
    if (!options.verbose && tail.length > 0) {
      console.error("lab: the last kernel messages:");
      for (const line of tail) console.error(`  ${line}`);
    }
    throw new UserError(message, EXIT_FAILURE);
  };
  if (how === "timeout") {
    explain(
      `the guest said nothing on the virtio console in ${timeoutMs / 1000} s: the kernel did ` +
        `not boot or did not reach the init${rule}; run with --verbose to watch it`,
    );
  } else if (how.kind === "panic") {
    explain(`the kernel panicked: ${how.line}${rule}`);
  } else if (!consoleUp) {
    explain(
      `the guest powered off without a console: Linux's virtio_console did not bind the lab's ` +
        `device${rule}`,
    );
  }
  if (machine.log.entries.length > 0) {
    say(`${machine.log.entries.length} conformance violation(s) logged${rule}`);
  }
  say("the guest powered off");
}
