/**
 * The grader of "Configuration space and ConfigGeneration". Device side:
 * `checkConfigAccess` swept over every offset, width and kind of access to
 * the block and console configuration spaces (with and without their
 * optional features), at statuses before, during and after feature
 * negotiation; `configChanged` from generations around 2^31 and 2^32, four
 * changes in a row, over status bytes with and without DRIVER_OK, then in
 * the lab's register file as a console is resized. Driver side:
 * `readConfigConsistent` on a scripted device that changes its
 * configuration during chosen runs of the read, or during every one; and
 * `readConfig64` on one that changes a 64-bit field between its two halves.
 * Last, the lab machine on all four, with a console resized twice.
 *
 * @module
 */

import { defineGrader, expectEqual } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import * as reference from "./reference.ts";
import type { ConfigAccessVerdict, ConfigSpaceView } from "../../transport/config_space.ts";
import { VIRTIO_MMIO_CONFIG as CONFIG } from "../../transport/mmio_registers.ts";
import {
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
} from "../../virtio/status.ts";
import type { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import type { VirtioBlockDevice } from "../../devices/blk/device.ts";
import type { VirtioConsoleDevice } from "../../devices/console/device.ts";
import * as show from "../kit/format.ts";
import { every, ruleFor, thrownFields } from "../kit/rules.ts";
import {
  CONFIG_ACCESSES,
  CONFIG_SPACES as SPACES,
  type ConfigAccessCase,
  type Consistency,
  CONSISTENT_CASES,
  type ConsistentCase,
  type ConsoleResizes,
  resizedConsole,
  runConsistent,
  runWide,
  settles,
  type Wide,
  WIDE_CASES,
  type WideCase,
} from "../kit/config.ts";
import { machineCheck, within } from "../kit/machine.ts";

type Impl = typeof Exercise;
const REF = reference as Impl;

// ------------------------------------------------------------ checkConfigAccess

const spaceOf = (name: string, status: number): ConfigSpaceView => ({ ...SPACES[name], status });
const ids = (v: ConfigAccessVerdict) => [...new Set(v.problems.map((p) => p.id))].sort();
const has = (v: ConfigAccessVerdict, id: string) => v.problems.some((p) => p.id === id);
const inside = (name: string, offset: number, width: number) => offset + width <= SPACES[name].size;
const fieldAt = (name: string, offset: number) =>
  SPACES[name].layout.find((f) => offset >= f.offset && offset < f.offset + f.size);

const access = ruleFor<Impl, ConfigAccessCase, ConfigAccessVerdict>({
  run: (impl, name, offset, width, kind, status) =>
    impl.checkConfigAccess(offset, width, kind, spaceOf(name, status)),
  reference: (name, offset, width, kind, status) =>
    REF.checkConfigAccess(offset, width, kind, spaceOf(name, status)),
  key: (...c) => c.join("/"),
  show: (name, offset, width, kind, status) => {
    const field = fieldAt(name, offset);
    return `checkConfigAccess(${offset}, ${width}, "${kind}", space) on ${name}, status ${
      show.status(status)
    } (${width * 8}-bit ${kind} at ${show.register(CONFIG + offset)}, ${
      field ? `field ${field.name}` : inside(name, offset, width) ? "no field" : "past the end"
    })`;
  },
  result: (v) => `{ serve: ${v.serve}, problems: [${ids(v).map((id) => `"${id}"`).join(", ")}] }`,
  shape: (v) => {
    const r = v as ConfigAccessVerdict;
    const ok = typeof r?.serve === "boolean" && Array.isArray(r.problems) &&
      r.problems.every((p) =>
        typeof p?.id === "string" && typeof p.message === "string" &&
        p.message.trim() !== ""
      );
    return ok ? undefined : "a verdict { serve, problems: [{ id, message, values }] }, " +
      "every problem with a message";
  },
}, { cases: CONFIG_ACCESSES, hint: 2 });

// ------------------------------------------------------------ configChanged

const GENERATIONS = [0, 1, 7, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];
const STATUSES = [0x00, 0x01, 0x03, 0x0b, 0x4b, 0x8b, 0xfb, 0x04, 0x07, 0x0f, 0x4f, 0x8f, 0xff];
const CHANGES = every(GENERATIONS.flatMap((g) => STATUSES.map((s) => [g, s] as [number, number])));
interface Changes {
  readonly generations: unknown[];
  readonly notify: unknown;
}
/** Four changes in a row from `generation`: the generations seen, and the first change's notify. */
function changes(part: Impl["configChanged"], generation: number, status: number): Changes {
  const generations: unknown[] = [generation];
  let notify: unknown;
  for (let k = 0; k < 4; k++) {
    const change = part(generations.at(-1) as number, status);
    if (k === 0) notify = change?.notify;
    generations.push(change?.configGeneration);
  }
  return { generations, notify };
}
const isU32 = (g: unknown) =>
  Number.isInteger(g) && (g as number) >= 0 && (g as number) <= 0xffff_ffff;
const change = ruleFor<Impl, [number, number], Changes>({
  run: (impl, g, s) => changes(impl.configChanged, g, s),
  reference: (g, s) => changes(REF.configChanged, g, s),
  key: (g, s) => `${g}/${s}`,
  show: (g, s) => `configChanged(${show.word(g)}, ${show.status(s)}), four times in a row`,
  verb: "gave",
  result: (r) =>
    `ConfigGeneration ${r.generations.map((g) => show.value(g)).join(" -> ")}, notify ${r.notify}`,
}, { cases: CHANGES, hint: 2 });

const registerFile = ruleFor<Impl, [], ConsoleResizes>({
  run: (impl) => resizedConsole(impl.configChanged),
  reference: () => resizedConsole(REF.configChanged),
  show: () =>
    "the lab's console register file on your configChanged, resized before and after DRIVER_OK",
  verb: "read",
  result: (at) =>
    Object.entries(at).map(([when, s]) =>
      `${when}: ConfigGeneration ${s.generation}, config interrupt ${
        s.configInterrupt ? "set" : "clear"
      }`
    ).join("; "),
}, { cases: every([[]]), hint: 2 });

const consistent = ruleFor<Impl, [ConsistentCase], Consistency>({
  run: (impl, c) => runConsistent(impl.readConfigConsistent, c),
  reference: (c) => runConsistent(REF.readConfigConsistent, c),
  key: (c) => c.name,
  show: (c) =>
    `readConfigConsistent(window, read${
      c.maxTries === undefined ? "" : `, ${c.maxTries}`
    }) on ${c.name}`,
  result: (r) =>
    `${show.outcome(r.outcome)} after ${r.runs} run(s) of read; its own accesses: [${
      [...new Set(r.own)].join(", ")
    }] (${r.own.length})`,
}, { cases: every(CONSISTENT_CASES.map((c) => [c] as [ConsistentCase])), hint: 3 });
const returnedRun = (r: Consistency) =>
  "returned" in r.outcome ? (r.outcome.returned as { run?: unknown })?.run : "threw";

const wide = ruleFor<Impl, [WideCase], Wide>({
  run: (impl, c) => runWide(impl.readConfig64, c),
  reference: (c) => runWide(REF.readConfig64, c),
  key: (c) => c.name,
  show: (c) => `readConfig64(window, ${c.offset}, consistent) on ${c.name}`,
  result: (r) =>
    `${show.outcome(r.outcome)}; consistent called ${r.calls} time(s), its runs reading ${
      r.runs.map((run) => `[${run.join(", ")}]`).join(" ")
    }${r.outside.length ? `; read outside it: [${r.outside.join(", ")}]` : ""}`,
}, { cases: every(WIDE_CASES.map((c) => [c] as [WideCase])), hint: 3 });
const wideValue = (
  r: Wide,
) => ("returned" in r.outcome ? r.outcome.returned : thrownFields(r.outcome));
const TORN_NOTE =
  "The halves came from two states of the field: the low word before the change, the high word " +
  "after. Linux's virtio_cread64 wraps its two readl (vm_get) in the generation loop for exactly this.";

const CONSOLE_SIZE = { cols: 80, rows: 25 };
const RESIZED = "a resize to reach the console driver: ConfigGeneration moved, one configuration " +
  "change interrupt, and cols and rows read again";

export const grader = defineGrader<Impl>({
  lesson: "config-space",
  checks: [
    // --------------------------------------------------- device side
    access({
      name: "an access past the end of configuration space is not served",
      requirement: "4.2.2.2/1",
      when: (n, offset, width) => !inside(n, offset, width),
      verdict: (v) => ({ serve: v.serve, problems: ids(v) }),
      why: 'serve false, and the one problem "4.2.2.2/1"',
    }),
    access({
      name: "each field is accessed at its own width, aligned",
      requirement: "4.2.2.2/3",
      when: (n, offset, width) => inside(n, offset, width),
      verdict: (v) => has(v, "4.2.2.2/3"),
      why: '"4.2.2.2/3" exactly when the width is not the field\'s (1, 2, or 4 for u32 and each ' +
        "half of a u64), the offset not a multiple of it, or the access runs past the field",
    }),
    access({
      name: "a field whose feature is not offered is reported",
      requirement: "2.5.1/1",
      when: (n, offset, width) => inside(n, offset, width),
      verdict: (v) => has(v, "2.5.1/1"),
      why: '"2.5.1/1" exactly when the field has a feature bit the device does not offer',
    }),
    access({
      name: "reads are served at any time, before FEATURES_OK too",
      requirement: "2.5.2/1",
      when: (n, offset, width, kind) => kind === "read" && inside(n, offset, width),
      verdict: (v) => v.serve,
      why: "serve true for every read inside configuration space, whatever the status",
      note: (got, _w, _n, _o, _wd, _k, status) =>
        !got.serve && (status & FEATURES_OK) === 0
          ? "Drivers read configuration before FEATURES_OK to decide whether they can drive the " +
            "device: Linux's virtio-blk read blk_size that early (82e89ea077b9), and a device " +
            "that answered such reads wrongly got that validation reverted (the case file)."
          : undefined,
    }),
    access({
      name: "a read that breaks no rule has no problem",
      requirement: "2.5.2/1",
      when: (n, offset, width, kind, status) =>
        kind === "read" &&
        REF.checkConfigAccess(offset, width, kind, spaceOf(n, status)).problems.length === 0,
      verdict: (v) => ids(v),
      why: "no problem at all",
    }),
    access({
      name: "writes reach only writable fields",
      requirement: "4.2.2.2/1",
      when: (n, offset, width, kind) => kind === "write" && inside(n, offset, width),
      verdict: (v) => v.serve,
      why: "serve true exactly for a write to a writable field (emerg_wr, writeback)",
    }),
    access({
      name: "a write during feature negotiation is reported",
      requirement: "3.1.1/2",
      when: (n, offset, width, kind) => kind === "write" && inside(n, offset, width),
      verdict: (v) => has(v, "3.1.1/2"),
      why: '"3.1.1/2" exactly for a write to a writable field that is not anytime (writeback, ' +
        "not emerg_wr) while the status has DRIVER but not FEATURES_OK",
    }),
    change({
      name: "ConfigGeneration takes a new value on every change",
      requirement: "4.2.2.1/6",
      verdict: (r) => ({
        u32: r.generations.every(isU32),
        distinct: new Set(r.generations).size === r.generations.length,
      }),
      why: "five different u32 values over four changes (counting up by one, wrapping to 0)",
      note: (got) =>
        got.generations.every(isU32) && new Set(got.generations).size > 1 &&
          new Set(got.generations).size < got.generations.length
          ? "A generation that comes back to an earlier value lets a driver mistake two changes " +
            "for none: it reads the same generation before and after, and keeps a torn snapshot."
          : undefined,
    }),
    change({
      name: "the change is announced only once DRIVER_OK is set",
      requirement: "3.2.1/D1",
      verdict: (r) => r.notify,
      why: "notify true exactly when the status has DRIVER_OK (0x04)",
      note: (got, _w, _g, status) =>
        got.notify === true && (status & DRIVER_OK) === 0
          ? "QEMU's virtio_notify_config returns at once while DRIVER_OK is clear."
          : undefined,
    }),
    registerFile({
      name: "your configChanged in the lab's register file, as a console is resized",
      requirement: "4.2.2.1/6",
      verdict: (at) => ({
        moved: at["resized while negotiating"].generation !== at.reset.generation &&
          at["resized while live"].generation !== at.live.generation,
        interrupts: Object.values(at).map((s) => s.configInterrupt),
      }),
      why: "ConfigGeneration moved by both resizes, and the config interrupt set only by the " +
        "resize after DRIVER_OK",
    }),
    // --------------------------------------------------- driver side
    consistent({
      name: "what readConfigConsistent returns comes from a run the generation held still across",
      requirement: "2.5.1/1",
      when: settles,
      verdict: (r) => ({ returned: returnedRun(r), runs: r.runs }),
      why: "the first run of read with no change during it, returned, and no run after it",
    }),
    consistent({
      name: "a generation that never settles: give up after maxTries runs",
      requirement: "2.5.1/1",
      when: (c) => c.changesDuring === "every",
      verdict: (r) => ({ error: thrownFields(r.outcome), runs: r.runs }),
      why: "read run exactly maxTries times (100 by default), then a ConfigGenerationError with " +
        "attempts maxTries and the two generations read around the last run",
    }),
    consistent({
      name: "maxTries below 1 is refused before anything is read",
      requirement: "2.5.1/1",
      when: (c) => !((c.maxTries ?? 100) >= 1),
      verdict: (r) => ({ error: thrownFields(r.outcome).name, runs: r.runs, own: r.own.length }),
      why: "a RangeError, with no run of read and no access",
    }),
    consistent({
      name: "readConfigConsistent reads only ConfigGeneration, 32 bits wide",
      requirement: "4.2.2.2/2",
      when: (c) => (c.maxTries ?? 100) >= 1,
      verdict: (r) => [...new Set(r.own)],
      why: "32-bit reads of ConfigGeneration (0x0fc), and no other access of its own",
    }),
    wide({
      name: "a 64-bit field is two aligned 32-bit reads, low word first",
      requirement: "4.2.2.2/3",
      when: (c) => !c.givesUp,
      verdict: (r) => r.runs,
      why: (_want, c) =>
        `each run reading ${show.register(CONFIG + c.offset)} then ${
          show.register(CONFIG + c.offset + 4)
        }, 32 bits each, and nothing else`,
    }),
    wide({
      name: "the value is high << 32 | low, unsigned, all 64 bits",
      requirement: "4.2.2.2/3",
      when: (c) => !c.givesUp && c.changesTo === undefined,
      verdict: wideValue,
      why: "the field's value as a bigint from 0n to 2n ** 64n - 1n",
    }),
    wide({
      name: "both halves come from one snapshot, inside the consistent step",
      requirement: "2.5.1/1",
      when: (c) => c.changesTo !== undefined,
      verdict: (r) => ({ value: wideValue(r), outside: r.outside }),
      why: "the value after the change (never the low half of one and the high half of the " +
        "other), with every read inside consistent",
      note: (got, want) => (wideValue(got) !== wideValue(want) ? TORN_NOTE : undefined),
    }),
    wide({
      name: "what the consistent step throws, readConfig64 throws",
      requirement: "2.5.1/1",
      when: (c) => !!c.givesUp,
      verdict: (r) => ({ error: thrownFields(r.outcome), outside: r.outside }),
      why: "the ConfigGenerationError of consistent, unchanged, and nothing read outside it",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "config-space",
      name: "your configuration space runs the lab machine",
      requirement: "2.5.1/1",
      hint: 4,
      expects: "the lab machine, on your four functions and a strict log, to bring both devices " +
        "up with the disk's capacity and the console's size read right, carry console and disk " +
        "traffic, and follow two console resizes: ConfigGeneration moved, a config interrupt " +
        "each, and the driver's size re-read",
      lesson,
      consoleSize: CONSOLE_SIZE,
      async also(machine) {
        const blk = machine.blk;
        expectEqual(
          blk.driver!.capacity,
          (blk.device as VirtioBlockDevice).capacity,
          "the capacity the block driver read (your readConfig64)",
          {
            format: (v) => show.value(v),
            requires: "the device's capacity, read as two halves under the generation loop",
          },
        );
        const con = machine.console;
        expectEqual(con.driver!.size, CONSOLE_SIZE, "the size the console driver read", {
          format: (v) => show.value(v),
          requires: "cols and rows as the console reports them",
        });
        const backend = (con.device as VirtioConsoleDevice).backend as MemoryConsoleBackend;
        for (const [cols, rows] of [[132, 43], [100, 30]]) {
          const generation = con.transport.configGeneration;
          const interrupts = con.transport.configInterrupts;
          backend.resize(cols, rows);
          const settled = (async () => {
            while (con.driver!.size?.cols !== cols || con.driver!.size?.rows !== rows) {
              await machine.idle();
              await new Promise((r) => setTimeout(r, 1));
            }
          })();
          await within(settled, 1000, `the resize to ${cols}x${rows}`, RESIZED, machine);
          expectEqual(
            {
              generationMoved: con.transport.configGeneration !== generation,
              configInterrupts: con.transport.configInterrupts - interrupts,
              size: con.driver!.size,
            },
            { generationMoved: true, configInterrupts: 1, size: { cols, rows } },
            `the console after a resize to ${cols}x${rows}`,
            {
              format: (v) => show.value(v),
              requires: "ConfigGeneration moved, one configuration change interrupt, and the " +
                "driver's size re-read",
            },
          );
        }
      },
    }),
  ],
});
