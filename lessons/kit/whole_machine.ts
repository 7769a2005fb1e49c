/**
 * The whole lab machine on the learner's parts, as a learner uses it: the
 * guest shell typed at over the console, a real ext2 image read and written
 * through the block stack, and the time that took against the reference
 * machine doing the same (a sanity bound, not a benchmark). Two boots: the
 * learner's machine on a strict log, then the reference's.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { type Check, fail, isNotWrittenYet } from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import type { LabMachine } from "../../machine.ts";
import { runShell } from "../../guest/shell.ts";
import { MemoryBlockBackend } from "../../devices/blk/backends.ts";
import { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import { thrownViolation } from "./log.ts";
import { failOnViolations } from "./log.ts";
import { violation as showViolation } from "./format.ts";
import { thrown } from "./rules.ts";
import {
  bootLearnerMachine,
  expectDevicesUp,
  type LessonParts,
  within,
  withMachine,
} from "./machine.ts";
import { EXT2_IMAGE_SHA256, EXT2_SUPERBLOCK, ext2Image } from "./ext2_image.ts";

/** What the scripted session types at the guest prompt, one command a line. */
export const SHELL_SESSION = ["devices", "disk read 2", "stats", "console", "exit"] as const;

/** What {@linkcode wholeMachineCheck} takes. */
export interface WholeMachineOptions {
  /** The check's name. */
  readonly name: string;
  /** The graded lesson's id (later lessons' features are withheld). */
  readonly id: string;
  /** The lesson's `lesson.json`: its `parts` go into the machine. */
  readonly lesson: LessonParts;
  /** The requirement the check enforces. */
  readonly requirement: RequirementId;
  /** The hint that helps. */
  readonly hint: number;
  /** What the spec requires, in words. */
  readonly expects: string;
  /** The learner's disk read may take this many times the reference's (default 20). */
  readonly ratio?: number;
  /** How long each phase may take, in milliseconds (default 3000). */
  readonly timeoutMs?: number;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Sectors the check overwrites, in the middle of the image, and how many. */
const WRITE_AT = 4000;
const WRITE_SECTORS = 16;

/**
 * The check: on the learner's machine (strict log) every device comes up;
 * the scripted {@linkcode SHELL_SESSION} runs to `exit` over the console and
 * prints the devices live, the ext2 superblock (`53 ef` at 0x438), the
 * queue counters and the console's state; the whole 4 MiB ext2 image read
 * through the stack hashes to what `sha256sum` gives, its superblock has
 * the magic and the label; 16 sectors written in the middle land, read back
 * the same, and leave every other byte of the image as it was; then the
 * same read on the reference machine, and the learner's took at most
 * `ratio` times as long (the faster of a cold and a warm read against the
 * faster of two reference reads, plus 500 ms for a machine busy with other work).
 *
 * @param options The check's name, ids, hint and text, and the lesson's parts.
 */
export function wholeMachineCheck<I>(options: WholeMachineOptions): Check<I> {
  const ms = options.timeoutMs ?? 3000;
  const ratio = options.ratio ?? 20;
  const expects = options.expects;
  return {
    name: options.name,
    requirement: options.requirement,
    hint: options.hint,
    expects,
    async run(impl: I) {
      const image = await ext2Image();
      const disk = new MemoryBlockBackend(image.slice());
      const console = new MemoryConsoleBackend();
      const machine = await bootLearnerMachine(impl, {
        strict: true,
        lessonId: options.id,
        parts: options.lesson.parts,
        disk,
        console,
        timeoutMs: ms,
      });
      let mine = 0;
      await withMachine(machine, async () => {
        let phase = "the bring-up of the lab machine";
        try {
          expectDevicesUp(machine, expects);
          failOnViolations(machine.log, phase, expects);
          phase = "the shell session over the console";
          await shellSession(machine, console, ms, expects);
          failOnViolations(machine.log, phase, expects);
          phase = "the ext2 image read and written through the stack";
          mine = await diskSession(machine, disk, image, ms, expects);
          failOnViolations(machine.log, phase, expects);
          // The first read ran the learner's parts cold (compiled as they went), where
          // the reference's are warm from the rest of the process: time a second read too,
          // and keep the faster. A part that does far more work than it needs is slow warm.
          mine = Math.min(mine, await timedRead(machine, image.length / 512, ms, expects));
          failOnViolations(machine.log, phase, expects);
        } catch (error) {
          if (!isNotWrittenYet(error)) failOnViolations(machine.log, phase, expects);
          throw error;
        }
      });
      const reference = await bootLearnerMachine({}, {
        lessonId: options.id,
        parts: [],
        disk: new MemoryBlockBackend(image.slice()),
        console: new MemoryConsoleBackend(),
      });
      let theirs = Infinity;
      await withMachine(reference, async () => {
        for (let k = 0; k < 2; k++) {
          const t = performance.now();
          await reference.blk.driver!.read(0, image.length / 512);
          theirs = Math.min(theirs, performance.now() - t);
        }
      });
      if (mine > ratio * theirs + 500) {
        fail({
          observed: `reading the 4 MiB image took ${mine.toFixed(0)} ms on your parts, ` +
            `${theirs.toFixed(0)} ms on the reference's (${
              (mine / theirs).toFixed(0)
            } times as long)`,
          expected: `${expects}, at most ${ratio} times as slowly as the reference (a sanity ` +
            "bound: something in your parts does far more work per request than it needs)",
        });
      }
    },
  };
}

/** Reads the whole disk once more and returns how long it took, in milliseconds. */
async function timedRead(
  machine: LabMachine,
  sectors: number,
  ms: number,
  expects: string,
): Promise<number> {
  const blk = machine.blk.driver;
  if (!blk) fail({ observed: `no block driver: ${machine.blk.error}`, expected: expects });
  const t = performance.now();
  await within(
    blk.read(0, sectors).catch(diskError),
    ms,
    `reading the whole ${sectors}-sector ext2 image a second time`,
    "the image to read as fast warm as the first time",
    machine,
  );
  return performance.now() - t;
}

async function shellSession(
  machine: LabMachine,
  backend: MemoryConsoleBackend,
  ms: number,
  expects: string,
): Promise<void> {
  const driver = machine.console.driver;
  if (!driver) fail({ observed: `no console driver: ${machine.console.error}`, expected: expects });
  const shell = runShell(machine, { input: driver.readable, write: (t) => driver.write(t) });
  backend.input(new TextEncoder().encode(SHELL_SESSION.map((c) => `${c}\r`).join("")));
  const ended = await within(
    shell,
    ms,
    `the shell session (${SHELL_SESSION.join(", ")})`,
    "the guest shell to read each command through receiveq and answer through transmitq",
    machine,
  );
  const out = new TextDecoder().decode(backend.output);
  const missing = [
    ["the banner", "virtio-lab guest: booted"],
    ["devices: the block device live", "virtio_blk"],
    ["devices: the console live", "virtio_console"],
    ["disk read 2: the ext2 magic at 0x438", "00000430  00 f1 53 65 00 00 ff ff  53 ef"],
    ["stats: the requestq's counters", "0 requestq"],
    ["console: what it received", "bytes through receiveq"],
  ].filter(([, text]) => !out.includes(text));
  if (ended !== "exit" || missing.length > 0) {
    fail({
      observed: `the shell session ${ended === "exit" ? "ended with exit" : `ended by ${ended}`}` +
        (missing.length > 0 ? `, and its output lacks ${missing.map(([w]) => w).join("; ")}` : "") +
        `; the last of its output: ${JSON.stringify(out.slice(-200))}`,
      expected: "the guest shell to run every command typed at the console and answer each, " +
        `through your console driver and device (${expects})`,
    });
  }
}

async function diskSession(
  machine: LabMachine,
  disk: MemoryBlockBackend,
  image: Uint8Array,
  ms: number,
  expects: string,
): Promise<number> {
  const blk = machine.blk.driver;
  if (!blk) fail({ observed: `no block driver: ${machine.blk.error}`, expected: expects });
  const sectors = image.length / 512;
  const expected = "the image read through the stack to be the image: sha256 as sha256sum gives";
  const t = performance.now();
  const all = await within(
    blk.read(0, sectors).catch(diskError),
    ms,
    `reading the whole ${sectors}-sector ext2 image`,
    expected,
    machine,
  );
  const took = performance.now() - t;
  const got = await sha256(all);
  const sb = EXT2_SUPERBLOCK.offset;
  const magic = all[sb + EXT2_SUPERBLOCK.magicOffset] |
    (all[sb + EXT2_SUPERBLOCK.magicOffset + 1] << 8);
  if (got !== EXT2_IMAGE_SHA256 || magic !== EXT2_SUPERBLOCK.magic) {
    const at = all.findIndex((b, i) => b !== image[i]);
    fail({
      observed: `the image read through your stack hashes to ${got.slice(0, 16)}..., sha256sum ` +
        `gives ${EXT2_IMAGE_SHA256.slice(0, 16)}...; the ext2 magic reads 0x${magic.toString(16)}` +
        (at >= 0
          ? `; the first wrong byte is at offset ${at} (sector ${Math.floor(at / 512)})`
          : ""),
      expected,
    });
  }
  const fresh = new Uint8Array(WRITE_SECTORS * 512).map((_, i) => (i * 7 + 0x5a) & 0xff);
  await within(
    blk.write(WRITE_AT, fresh).catch(diskError),
    ms,
    `writing sectors ${WRITE_AT}..${WRITE_AT + WRITE_SECTORS - 1}`,
    expected,
    machine,
  );
  const back = await within(
    blk.read(WRITE_AT - 1, WRITE_SECTORS + 2).catch(diskError),
    ms,
    "reading them back",
    expected,
    machine,
  );
  const want = image.slice();
  want.set(fresh, WRITE_AT * 512);
  const landed = await sha256(disk.data) === await sha256(want);
  const readBack = back.every((b, i) => b === want[(WRITE_AT - 1) * 512 + i]);
  if (!landed || !readBack) {
    fail({
      observed: `after writing ${WRITE_SECTORS} sectors at ${WRITE_AT}, ` +
        (landed ? "reading them back (and their neighbours) gave other bytes" : "the disk holds " +
          "other bytes than the image with those sectors replaced"),
      expected: "a write to land where it was sent, read back the same, and leave the rest of " +
        "the image intact",
    });
  }
  return took;
}

function diskError(error: unknown): never {
  if (isNotWrittenYet(error)) throw error;
  const v = thrownViolation(error);
  fail({
    observed: v
      ? `the disk request broke a rule: ${showViolation(v)}`
      : `the disk request failed: ${thrown(error)}`,
    expected: "every disk request to complete",
    requirement: v?.id,
  });
}
