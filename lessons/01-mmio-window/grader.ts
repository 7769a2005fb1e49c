/**
 * The grader of lesson 1, "The MMIO window".
 *
 * Device side: `readIdentification` and `checkRegisterAccess` against the
 * reference on every offset, width and direction of the window (the domain
 * is small enough to sweep, so a failure is the smallest access that breaks
 * a rule). Driver side: `probeWindow` on scripted windows: real devices, a
 * byte-swapped MagicValue, legacy and unknown versions, empty slots. Last,
 * the lab machine runs on all three, and its register files refuse what a
 * driver may not do.
 *
 * @module
 */

import fc from "fast-check";
import { defineGrader, expectEqual, expectViolation } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import {
  type AccessKind,
  checkRegisterAccess as referenceAccess,
  type DeviceIdentity,
  findRegister,
  readIdentification as referenceIdentification,
  type RegisterAccessCheck,
  VIRTIO_MMIO_MAGIC,
} from "../../transport/mmio_registers.ts";
import { type ProbeResult, probeWindow as referenceProbe } from "../../transport/mmio_driver.ts";
import { BLOCK_WINDOW } from "../../machine.ts";
import type { MmioBus } from "../../transport/mmio_bus.ts";
import * as show from "../kit/format.ts";
import { type Access, scriptedWindow } from "../kit/mmio.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import { every, ruleFor, sample } from "../kit/rules.ts";
import { bootLearnerMachine, machineCheck, withMachine } from "../kit/machine.ts";
import { failOnViolations } from "../kit/log.ts";

type Impl = typeof Exercise;

const SWAPPED_MAGIC = 0x76697274; // "virt" loaded big-endian
const QEMU_VENDOR = 0x554d4551; // "QEMU"
const SIGNED_NOTE =
  "Bit operators such as `| 0` give signed numbers: `x >>> 0` keeps a word unsigned.";
const NETBSD_SWAP_NOTE =
  `0x76697274 is "virt" with its bytes in the wrong order, what a big-endian load of the ` +
  `little-endian register gives. §4.2.2 makes every MMIO register little-endian: "v" (0x76) sits ` +
  `at offset 0, the lowest byte. NetBSD's virtio_mmio driver, which runs on big-endian ARM ` +
  `kernels too, had to learn this (virtio_mmio.c rev. 1.12, January 2024).`;

// ------------------------------------------------------------- identification

const IDENTITIES: readonly DeviceIdentity[] = [
  { deviceId: 2, vendorId: QEMU_VENDOR },
  { deviceId: 3, vendorId: 0x1af4, version: 2 },
  { deviceId: 0, vendorId: 0 },
  { deviceId: 1, vendorId: 0xffff_fff0, version: 1 },
];

const showIdentity = (id: DeviceIdentity) =>
  show.fields(id, { vendorId: show.word as (x: unknown) => string });

const identification = ruleFor<Impl, [number, DeviceIdentity], number | undefined>({
  run: (impl, offset, id) => impl.readIdentification(offset, id),
  reference: referenceIdentification,
  show: (offset, id) => `readIdentification(${show.offset(offset)}, ${showIdentity(id)})`,
  result: (v) => (v === undefined ? "undefined" : show.wordBytes(v)),
});

const u32 = fc.oneof(
  fc.constantFrom(0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff),
  fc.integer({ min: 0, max: 0xffff_ffff }),
);

// ------------------------------------------------------------------ access

type AccessCase = [offset: number, width: number, kind: AccessKind, version: 1 | 2];

function* accessCases(from: number, to: number, widths: number[], version: 1 | 2) {
  for (let offset = from; offset < to; offset++) {
    for (const width of widths) {
      for (const kind of ["read", "write"] as const) {
        yield [offset, width, kind, version] as AccessCase;
      }
    }
  }
}

/** The ids a refusal may cite: an access breaking both rules may cite either. */
function fairIds(...[offset, width, kind, version]: AccessCase): string[] {
  const ref = referenceAccess(offset, width, kind, version);
  if (ref.ok || ref.requirement === "4.2.2.2/1") return ref.ok ? [] : ["4.2.2.2/1"];
  const misplaced = offset % 4 !== 0 ||
    !referenceAccess(offset - (offset % 4), 4, kind, version).ok;
  return misplaced ? ["4.2.2.2/2", "4.2.2.2/1"] : ["4.2.2.2/2"];
}

function explainAccess(ref: RegisterAccessCheck, ...[offset, width, kind, version]: AccessCase) {
  const it = `a ${width * 8}-bit ${kind} at ${show.offset(offset)}`;
  if (offset >= 0x100) {
    return `${it} is in configuration space, which each device checks itself: let it through`;
  }
  if (ref.ok) {
    return `${it} to be allowed: ${
      ref.register!.name
    } is a register of the version ${version} table, direction ${ref.register!.direction}`;
  }
  if (ref.requirement === "4.2.2.2/2") {
    return `${it} to be refused: control registers take only aligned 32-bit accesses`;
  }
  if (!ref.register) {
    return `${it} to be refused: no register of the version ${version} table is there`;
  }
  const dir = ref.register.direction === "R" ? "read-only" : "write-only";
  return `${it} to be refused: ${ref.register.name} is ${dir}`;
}

const access = ruleFor<Impl, AccessCase, RegisterAccessCheck>({
  run: (impl, ...c) => impl.checkRegisterAccess(...c),
  reference: referenceAccess,
  show: (o, w, k, v) =>
    `checkRegisterAccess(${show.offset(o)}, ${w}, "${k}"${v === 1 ? ", 1" : ""})`,
  result: (r) =>
    r.ok
      ? `{ ok: true, register: ${r.register?.name ?? "null"} }`
      : `{ ok: false, requirement: "${r.requirement}", reason: ${show.value(r.reason)} }`,
  shape: (r) =>
    typeof (r as RegisterAccessCheck)?.ok === "boolean"
      ? undefined
      : "a verdict: { ok: true, register } or { ok: false, requirement, reason, register }",
});

const accessRule = {
  why: explainAccess,
  agrees(got: RegisterAccessCheck, want: RegisterAccessCheck, ...c: AccessCase) {
    if (got.ok !== want.ok) return false;
    if (got.ok && want.ok) return (got.register?.name ?? null) === (want.register?.name ?? null);
    if (got.ok || want.ok) return false;
    const around = findRegister(c[0] - (c[0] % 4), c[3]);
    return fairIds(...c).includes(got.requirement) && typeof got.reason === "string" &&
      got.reason.trim() !== "" && (got.register === null || got.register?.name === around?.name);
  },
  cites: (want: RegisterAccessCheck) => (want.ok ? "4.2.2.2/1" as const : want.requirement),
};

// ------------------------------------------------------------------ probing

/** What a scripted window's MagicValue, Version, DeviceID and VendorID read. */
type Words = [magic: number, version: number, deviceId: number, vendorId: number];
interface Probed {
  readonly found: ProbeResult;
  readonly accesses: readonly Access[];
}

function probeOn(probe: (w: RegisterWindow) => ProbeResult, ...words: Words): Probed {
  const { window, accesses } = scriptedWindow((offset) => words[offset / 4] ?? 0);
  return { found: probe(window), accesses };
}

const probe = ruleFor<Impl, Words, Probed>({
  run: (impl, ...words) => probeOn(impl.probeWindow, ...words),
  reference: (...words) => probeOn(referenceProbe, ...words),
  show: (magic, version, deviceId, vendorId) =>
    `probeWindow on a window reading MagicValue ${show.word(magic)}, Version ${version}, ` +
    `DeviceID ${deviceId}, VendorID ${show.word(vendorId)}`,
  result: (p) =>
    `${show.fields(p.found, { magic: show.word, vendorId: show.word })} after ${
      show.accesses(p.accesses)
    }`,
  shape: (p) =>
    typeof (p as Probed).found?.kind === "string"
      ? undefined
      : 'a result: { kind: "device", ... }, { kind: "empty" } or { kind: "rejected", ... }',
});

const MAGIC = VIRTIO_MMIO_MAGIC;
const DEVICES: Words[] = [[MAGIC, 2, 2, QEMU_VENDOR], [MAGIC, 2, 3, 0xffff_fff0], [
  MAGIC,
  2,
  0x1f,
  0,
]];
const BAD_MAGIC: Words[] = [SWAPPED_MAGIC, 0, 0xffff_ffff, MAGIC + 1].map((
  m,
) => [m, 2, 2, QEMU_VENDOR]);
const BAD_VERSION: Words[] = [1, 0, 3, 0xffff_ffff].map((v) => [MAGIC, v, 2, QEMU_VENDOR]);
const EMPTY: Words[] = [[MAGIC, 2, 0, 0], [MAGIC, 2, 0, QEMU_VENDOR]];
const offsets = (p: Probed) => p.accesses.map((a) => a.offset);
const VERSION_1_NOTE =
  "Version 1 is the legacy layout of §4.2.4 (page-based queues through GuestPageSize and QueuePFN, no QueueReady, no FEATURES_OK): a version 2 driver must not drive it. QEMU's virtio-mmio devices still default to it unless started with -global virtio-mmio.force-legacy=false.";

/** A rejection with the right id and values, having read nothing beyond MagicValue and Version. */
function rejectedAs(id: string) {
  return (got: Probed, want: Probed) => {
    const f = got.found;
    if (f.kind !== "rejected" || want.found.kind !== "rejected") return false;
    const readVersion = got.accesses.find((a) => a.offset === 0x004)?.value;
    const read = offsets(got);
    return f.requirement === id && f.magic === want.found.magic && typeof f.reason === "string" &&
      f.reason.trim() !== "" && f.version === (readVersion ?? 0) && read.includes(0x000) &&
      read.every((o) => o === 0x000 || o === 0x004) && (id !== "4.2.2.2/5" || read.includes(0x004));
  };
}

const at = (offset: number) => IDENTITIES.map((id) => [offset, id] as [number, DeviceIdentity]);
const anyIds = fc.tuple(fc.constantFrom(0x008, 0x00c), fc.record({ deviceId: u32, vendorId: u32 }));
const PROBED = [...DEVICES, ...BAD_MAGIC, ...BAD_VERSION, ...EMPTY];
const REFUSED: [id: "4.2.2.2/1" | "4.2.2.2/2", what: string, act: (b: MmioBus) => unknown][] = [
  ["4.2.2.2/2", "a 16-bit read of Status (0x070)", (b) => b.read16(BLOCK_WINDOW.base + 0x070)],
  ["4.2.2.2/1", "a 32-bit read of QueueNotify (0x050)", (b) => b.read32(BLOCK_WINDOW.base + 0x050)],
  ["4.2.2.2/1", "a 32-bit write to DeviceID (0x008)", (b) => b.write32(BLOCK_WINDOW.base + 8, 7)],
];

export const grader = defineGrader<Impl>({
  lesson: "mmio-window",
  checks: [
    // ------------------------------------------------------- device side
    identification({
      name: 'MagicValue reads "virt" as a little-endian word',
      requirement: "4.2.2.1/1",
      hint: 2,
      cases: every(at(0x000)),
      why: 'MagicValue to read "v" "i" "r" "t" at offsets 0 to 3: 0x76 is the low byte',
      note: (got) => (got === SWAPPED_MAGIC ? NETBSD_SWAP_NOTE : undefined),
    }),
    identification({
      name: "Version reads 2 (1 only for a legacy device)",
      requirement: "4.2.2.1/2",
      hint: 1,
      cases: every(at(0x004)),
      why: "Version to read identity.version, or 2 when it is absent",
    }),
    identification({
      name: "DeviceID and VendorID are the device's, as unsigned 32-bit values",
      requirement: "4.2.2/D1",
      hint: 2,
      cases: sample(anyIds, { seed: 0x5eed }),
      why: "DeviceID and VendorID to read identity.deviceId and identity.vendorId, unsigned",
      note: (got) => (typeof got === "number" && got < 0 ? SIGNED_NOTE : undefined),
    }),
    identification({
      name: "readIdentification answers only its four registers",
      requirement: "4.2.2/D1",
      hint: 1,
      cases: every(() => Array.from({ length: 0x200 }, (_, o) => [o, IDENTITIES[0]] as const)),
      when: (offset) => ![0x000, 0x004, 0x008, 0x00c].includes(offset),
      why: "undefined at every other offset, so that the register file answers it (0 would read 0)",
    }),
    access({
      name: "control registers take only aligned 32-bit accesses",
      requirement: "4.2.2.2/2",
      hint: 2,
      expects: "8-bit, 16-bit and misaligned accesses below 0x100 to be refused",
      cases: every(() => accessCases(0, 0x100, [1, 2, 4], 2)),
      when: (o, w) => w !== 4 || o % 4 !== 0,
      ...accessRule,
    }),
    access({
      name: "only registers of the table, each in its own direction",
      requirement: "4.2.2.2/1",
      hint: 1,
      expects: "aligned 32-bit accesses allowed exactly to registers of §4.2.2, in their direction",
      cases: every(() => accessCases(0, 0x100, [4], 2)),
      when: (o) => o % 4 === 0,
      ...accessRule,
    }),
    access({
      name: "configuration space (0x100 and up) is left to the device",
      requirement: "4.2.2.2/1",
      hint: 2,
      expects: "every access at 0x100 or above to pass as { ok: true, register: null }",
      cases: every(() => accessCases(0x100, 0x200, [1, 2, 4], 2)),
      ...accessRule,
    }),
    access({
      name: "the legacy layout (version 1) has its own registers",
      requirement: "4.2.2.2/1",
      hint: 2,
      expects:
        "version 1 accesses to follow the legacy table of §4.2.4 (QueuePFN, no QueueReady...)",
      cases: every(() => accessCases(0, 0x100, [4], 1)),
      when: (o) => o % 4 === 0,
      ...accessRule,
    }),
    // ------------------------------------------------------- driver side
    probe({
      name: "probeWindow identifies a device: MagicValue, Version, DeviceID, then VendorID",
      requirement: "4.2.3.1.1/1",
      hint: 3,
      cases: every(DEVICES),
      verdict: (p) => ({ found: p.found, reads: offsets(p) }),
      why:
        "MagicValue, Version, DeviceID and VendorID read in that order, once each, and the device",
    }),
    probe({
      name: 'probeWindow ignores a bad MagicValue, such as 0x76697274 ("virt" byte-swapped)',
      requirement: "4.2.2.2/4",
      hint: 2,
      cases: every(BAD_MAGIC),
      agrees: rejectedAs("4.2.2.2/4"),
      why:
        'a rejection citing "4.2.2.2/4", the magic read, a reason, and nothing read past Version',
      note: (_g, _w, magic) => (magic === SWAPPED_MAGIC ? NETBSD_SWAP_NOTE : undefined),
    }),
    probe({
      name: "probeWindow ignores a Version other than 2, the legacy 1 included",
      requirement: "4.2.2.2/5",
      hint: 2,
      cases: every(BAD_VERSION),
      agrees: rejectedAs("4.2.2.2/5"),
      why: 'a rejection citing "4.2.2.2/5", magic and version as read, a reason; DeviceID unread',
      note: (_g, _w, _m, version) => (version === 1 ? VERSION_1_NOTE : undefined),
    }),
    probe({
      name: "probeWindow stops at DeviceID 0 and touches nothing else",
      requirement: "4.2.3.1.1/2",
      hint: 2,
      cases: every(EMPTY),
      verdict: offsets,
      why: "MagicValue, Version and DeviceID read, and nothing else once DeviceID reads 0",
    }),
    probe({
      name: "an empty slot is skipped silently, not reported",
      requirement: "4.2.2.2/6",
      hint: 2,
      cases: every(EMPTY),
      verdict: (p) => p.found.kind,
      why:
        '{ kind: "empty" } for DeviceID 0: the virtio bus reports a "rejected" window as an error',
    }),
    probe({
      name: "probing only reads, 32 bits at a time",
      requirement: "4.2.2.2/2",
      hint: 2,
      cases: every(PROBED),
      verdict: (p) =>
        p.accesses.every((a) => a.kind === "read" && a.width === 4 && a.offset % 4 === 0),
      why: "aligned 32-bit reads only (window.read32): probing writes nothing",
      result: (p) => show.accesses(p.accesses),
    }),
    // ------------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "mmio-window",
      name: "your window code runs the lab machine",
      requirement: "4.2.3.1.1/1",
      hint: 4,
      expects: "the lab machine, on your three functions and a strict log, to find both devices, " +
        "skip the empty slot, and carry console and disk traffic",
      lesson,
    }),
    {
      name: "your register file refuses what a driver may not do, on the lab machine",
      requirement: "4.2.2.2/2",
      hint: 4,
      expects: "the machine's register file, on your functions, to refuse and log what §4.2.2.2 " +
        "forbids and keep answering proper accesses",
      async run(impl) {
        const machine = await bootLearnerMachine(impl, {
          lessonId: "mmio-window",
          parts: lesson.parts.filter((key) => key.startsWith("transport.device.")),
        });
        await withMachine(machine, () => {
          failOnViolations(machine.log, "the bring-up", "a bring-up that breaks no rule");
          for (const [id, what, act] of REFUSED) {
            machine.log.clear();
            act(machine.bus);
            expectViolation(machine.log, id, what, { requires: `${what} to be logged as ${id}` });
          }
          const blk = machine.bus.window(BLOCK_WINDOW.base);
          expectEqual(blk.read32(0x008), 2, "DeviceID after the refused write", {
            format: show.word,
            requires: "a refused write to change nothing: DeviceID still reads 2 (virtio-blk)",
          });
          expectEqual(blk.read32(0x070), 0x0f, "Status of the live disk", {
            format: show.status,
            requires: "Status to read 0x0f (ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK)",
          });
        });
      },
    },
  ],
});
