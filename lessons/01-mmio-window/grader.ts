/**
 * The grader of lesson 1, "The MMIO window".
 *
 * Device side: `readIdentification` and `checkRegisterAccess` are compared
 * with the spec's table on every offset, width and direction (the domain is
 * small enough to try all of it, so a failure shows the smallest input that
 * breaks a rule). Driver side: `probeWindow` runs against scripted windows,
 * deliberately wrong devices (a byte-swapped MagicValue, a legacy Version 1)
 * and an empty slot on a strict log, where any access beyond DeviceID throws.
 * Last, the lab machine boots on the learner's three functions and reads
 * sector 2 of its disk.
 *
 * @module
 */

import fc from "fast-check";
import {
  defineGrader,
  describe,
  expectEqual,
  expectViolation,
  fail,
  hex,
} from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import {
  type AccessKind,
  checkRegisterAccess as referenceCheck,
  type DeviceIdentity,
  hex3,
  readIdentification as referenceIdentification,
  type RegisterAccessCheck,
  VIRTIO_MMIO_MAGIC,
} from "../../transport/mmio_registers.ts";
import type { ProbeResult } from "../../transport/mmio_driver.ts";
import { EmptyMmioSlot } from "../../transport/mmio_device.ts";
import { ConformanceLog, type Violation } from "../../conformance/log.ts";
import {
  type Access,
  bootWithLearnerParts,
  describeAccess,
  describeAccesses,
  describeViolation,
  expectMachineRuns,
  failOnViolations,
  hex32,
  recordingWindow,
  registerAt,
  scriptedRegion,
  windowOf,
  withMachine,
} from "../grading_kit.ts";

type Impl = typeof Exercise;

const MAGIC = VIRTIO_MMIO_MAGIC; // 0x74726976, "virt"
const SWAPPED_MAGIC = 0x76697274; // "virt" loaded big-endian
const QEMU_VENDOR = 0x554d4551; // "QEMU"

const NETBSD_SWAP_NOTE =
  `0x76697274 is "virt" with its bytes in the wrong order, what a big-endian load of the ` +
  `little-endian register gives. The spec makes every MMIO register little-endian (§4.2.2): "v" ` +
  `(0x76) sits at offset 0, the lowest byte. NetBSD's virtio_mmio driver, which runs on ` +
  `big-endian ARM kernels too, had to learn this (virtio_mmio.c rev. 1.12, January 2024: MMIO ` +
  `registers are little-endian whatever the byte order of the rest).`;

const IDENTITIES: readonly DeviceIdentity[] = [
  { deviceId: 2, vendorId: QEMU_VENDOR },
  { deviceId: 3, vendorId: 0x1af4, version: 2 },
  { deviceId: 0, vendorId: 0 },
  { deviceId: 1, vendorId: 0xffff_fff0, version: 1 },
];

/** A number as 0x........ plus its bytes as they sit in memory (little-endian). */
function showWord(value: unknown): string {
  if (typeof value !== "number" || !Number.isInteger(value)) return describe(value);
  const bytes = [0, 1, 2, 3].map((i) => (value >>> (8 * i)) & 0xff);
  const text = bytes.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
  return `${value < 0 ? `${value} (negative!)` : hex32(value)}, bytes at offsets 0..3 "${text}"`;
}

/** `{ deviceId: 2, vendorId: 0x554d4551 }` */
function showIdentity(id: DeviceIdentity): string {
  return `{ deviceId: ${id.deviceId}, vendorId: ${hex32(id.vendorId)}${
    id.version === undefined ? "" : `, version: ${id.version}`
  } }`;
}

function showCall(offset: number, width: number, kind: AccessKind, version: 1 | 2): string {
  return `checkRegisterAccess(${hex3(offset)}, ${width}, "${kind}"${version === 1 ? ", 1" : ""})`;
}

function showVerdict(v: RegisterAccessCheck | undefined): string {
  if (!v || typeof v !== "object") return describe(v);
  if (v.ok) return `{ ok: true, register: ${v.register ? v.register.name : "null"} }`;
  return `{ ok: false, requirement: ${JSON.stringify(v.requirement)}, reason: ${
    JSON.stringify(v.reason)
  } }`;
}

/** Why the reference decides as it does, in words. */
function explain(offset: number, width: number, kind: AccessKind, version: 1 | 2): string {
  const ref = referenceCheck(offset, width, kind, version);
  const call = `a ${width * 8}-bit ${kind} at ${hex3(offset)}`;
  if (offset >= 0x100) {
    return `${call} is in configuration space (0x100 and up), which each device checks ` +
      `field by field: checkRegisterAccess lets it through as { ok: true, register: null }`;
  }
  if (ref.ok) {
    return `${call} to be allowed: ${ref.register!.name} is a register of the version ` +
      `${version} layout with direction ${ref.register!.direction}`;
  }
  if (ref.requirement === "4.2.2.2/2") {
    return `${call} to be refused with requirement "4.2.2.2/2": control registers take ` +
      `only 32-bit, 4-byte aligned accesses`;
  }
  if (!ref.register) {
    return `${call} to be refused with requirement "4.2.2.2/1": no register of the ` +
      `version ${version} layout is at ${hex3(offset)}`;
  }
  const what = ref.register.direction === "R" ? "read-only" : "write-only";
  return `${call} to be refused with requirement "4.2.2.2/1": ${ref.register.name} ` +
    `(${hex3(offset)}) is ${what} (${ref.register.direction})`;
}

/** Which requirement ids are fair answers for a refused access. */
function acceptableRequirements(
  offset: number,
  width: number,
  kind: AccessKind,
  version: 1 | 2,
): string[] {
  const ref = referenceCheck(offset, width, kind, version);
  if (ref.ok) return [];
  if (ref.requirement === "4.2.2.2/1") return ["4.2.2.2/1"];
  // A narrow or misaligned access: 4.2.2.2/2. When the offset is also not
  // where a register starts, or the 32-bit access there would be refused
  // too, it breaks 4.2.2.2/1 as well, and either answer is fair.
  const aligned = offset - (offset % 4);
  const alsoLocation = offset % 4 !== 0 || !referenceCheck(aligned, 4, kind, version).ok;
  return alsoLocation ? ["4.2.2.2/2", "4.2.2.2/1"] : ["4.2.2.2/2"];
}

/**
 * Compares the learner's checkRegisterAccess with the spec's table on a list
 * of accesses (in order, so the first failure is the smallest input) and
 * fails on the first disagreement.
 */
function sweepAccesses(
  impl: Impl,
  cases: Iterable<[number, number, AccessKind, 1 | 2]>,
): void {
  for (const [offset, width, kind, version] of cases) {
    const ref = referenceCheck(offset, width, kind, version);
    const got = impl.checkRegisterAccess(offset, width, kind, version) as
      | RegisterAccessCheck
      | undefined;
    const call = showCall(offset, width, kind, version);
    const observed = `${call} returned ${showVerdict(got)}`;
    const expected = explain(offset, width, kind, version);
    if (!got || typeof got !== "object" || typeof got.ok !== "boolean") {
      fail({ observed, expected });
    }
    if (got.ok !== ref.ok) {
      fail({
        observed,
        expected,
        requirement: ref.ok ? "4.2.2.2/1" : ref.requirement,
        note: ref.ok ? undefined : `This is the smallest access your function lets through.`,
      });
    }
    if (got.ok && ref.ok) {
      const name = got.register?.name ?? null;
      if (name !== (ref.register?.name ?? null)) {
        fail({
          observed: `${call} returned register ${name ?? "null"}`,
          expected: ref.register
            ? `the verdict to name the register accessed, ${ref.register.name} (use findRegister(offset, version))`
            : `register: null for configuration space`,
          requirement: "4.2.2.2/1",
        });
      }
      continue;
    }
    if (!got.ok && !ref.ok) {
      const fair = acceptableRequirements(offset, width, kind, version);
      if (!fair.includes(got.requirement)) {
        fail({
          observed,
          expected,
          requirement: ref.requirement,
          note: fair.length > 1
            ? `Both rules are broken by this access; either id is accepted.`
            : undefined,
        });
      }
      if (typeof got.reason !== "string" || got.reason.trim() === "") {
        fail({
          observed: `${call} refused the access with reason ${describe(got.reason)}`,
          expected: `a refusal to say why in one sentence (the device logs it), e.g. ${
            JSON.stringify(ref.reason)
          }`,
          requirement: ref.requirement,
        });
      }
    }
  }
}

function* controlAccesses(
  widths: readonly number[],
  version: 1 | 2,
  onlyBad: boolean,
): Generator<[number, number, AccessKind, 1 | 2]> {
  for (let offset = 0; offset < 0x100; offset++) {
    for (const width of widths) {
      for (const kind of ["read", "write"] as const) {
        const bad = width !== 4 || offset % 4 !== 0;
        if (onlyBad && !bad) continue;
        if (!onlyBad && bad) continue;
        yield [offset, width, kind, version];
      }
    }
  }
}

// ------------------------------------------------------------------ probing

interface FakeDevice {
  readonly magic: number;
  readonly version: number;
  readonly deviceId: number;
  readonly vendorId: number;
}

/** A window whose identification registers answer from `dev`; everything else reads 0. */
function fakeWindow(dev: FakeDevice): { window: ReturnType<typeof windowOf>; accesses: Access[] } {
  const region = scriptedRegion((offset) => {
    switch (offset) {
      case 0x000:
        return dev.magic;
      case 0x004:
        return dev.version;
      case 0x008:
        return dev.deviceId;
      case 0x00c:
        return dev.vendorId;
      default:
        return 0;
    }
  });
  return recordingWindow(windowOf(region, 0x1e000));
}

function showProbe(found: unknown): string {
  if (typeof found !== "object" || found === null) return describe(found);
  const hexed: Record<string, unknown> = { ...found };
  for (const key of ["magic", "vendorId"]) {
    if (typeof hexed[key] === "number") hexed[key] = hex32(hexed[key] as number);
  }
  return describe(hexed).replace(/"(0x[0-9a-f]{8})"/g, "$1");
}

/** Fails unless every access is a 32-bit read (probing only looks, 4.2.2.2/2). */
function expectOnlyReads(accesses: readonly Access[], requirement: string): void {
  const write = accesses.find((a) => a.kind === "write");
  if (write) {
    fail({
      observed: `probeWindow made a ${describeAccess(write)} (accesses: ${
        describeAccesses(accesses)
      })`,
      expected: "probing to only read the identification registers; it writes nothing",
      requirement,
    });
  }
  const narrow = accesses.find((a) => a.width !== 4);
  if (narrow) {
    fail({
      observed: `probeWindow made a ${describeAccess(narrow)}`,
      expected: "every access to a control register to be an aligned 32-bit read (window.read32)",
      requirement: "4.2.2.2/2",
    });
  }
}

/** Fails if the driver read beyond `allowed` (offsets), naming the first extra access. */
function expectReadsWithin(
  accesses: readonly Access[],
  allowed: readonly number[],
  expected: string,
  requirement: string,
): void {
  const extra = accesses.find((a) => !allowed.includes(a.offset));
  if (extra) {
    fail({
      observed: `probeWindow went on to a ${describeAccess(extra)} (accesses: ${
        describeAccesses(accesses)
      })`,
      expected,
      requirement,
    });
  }
}

function swappedMagic(offset: number, identity: DeviceIdentity): number | undefined {
  return offset === 0x000 ? SWAPPED_MAGIC : referenceIdentification(offset, identity);
}

function legacyVersion(offset: number, identity: DeviceIdentity): number | undefined {
  return referenceIdentification(offset, { ...identity, version: 1 });
}

export const grader = defineGrader<Impl>({
  lesson: "mmio-window",
  checks: [
    // ------------------------------------------------------- device side
    {
      name: 'MagicValue reads "virt" as a little-endian word',
      requirement: "4.2.2.1/1",
      hint: 1,
      expects: 'MagicValue (0x000) to read 0x74726976, "virt" little-endian, for every device',
      run(impl) {
        for (const identity of IDENTITIES) {
          const got = impl.readIdentification(0x000, identity);
          if (got === MAGIC) continue;
          fail({
            observed: `readIdentification(0x000, ${showIdentity(identity)}) returned ${
              showWord(got)
            }`,
            expected: 'MagicValue (0x000) to read 0x74726976: the bytes "v" "i" "r" "t" at ' +
              "offsets 0 to 3, so 0x76 is the low byte of the little-endian word",
            note: got === SWAPPED_MAGIC ? NETBSD_SWAP_NOTE : undefined,
          });
        }
      },
    },
    {
      name: "Version reads 2 (1 only for a legacy device)",
      requirement: "4.2.2.1/2",
      hint: 1,
      expects: "Version (0x004) to read 2 for a modern device, the interface this lab implements",
      run(impl) {
        for (const identity of IDENTITIES) {
          const want = identity.version ?? 2;
          expectEqual(
            impl.readIdentification(0x004, identity),
            want,
            `readIdentification(0x004, ${showIdentity(identity)})`,
            {
              requires: want === 2
                ? "Version (0x004) to read 2 for a modern device (identity.version absent or 2)"
                : "Version (0x004) to read 1 for a device that says it is legacy (identity.version 1)",
            },
          );
        }
      },
    },
    {
      name: "DeviceID and VendorID are the device's, as unsigned 32-bit values",
      requirement: "4.2.2.2/6",
      hint: 1,
      expects:
        "DeviceID (0x008) and VendorID (0x00c) to report the device's IDs (a driver skips a DeviceID of 0 as an empty slot)",
      run(impl) {
        const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
        const arb = fc.record({ deviceId: u32, vendorId: u32 });
        const good = (id: DeviceIdentity) =>
          impl.readIdentification(0x008, id) === id.deviceId &&
          impl.readIdentification(0x00c, id) === id.vendorId;
        const result = fc.check(fc.property(arb, good), { seed: 0x5eed, numRuns: 300 });
        if (!result.failed) return;
        const id = result.counterexample![0];
        for (
          const [offset, name, want] of [
            [0x008, "DeviceID", id.deviceId],
            [0x00c, "VendorID", id.vendorId],
          ] as const
        ) {
          const got = impl.readIdentification(offset, id);
          if (got === want) continue;
          fail({
            observed: `readIdentification(${hex3(offset)}, ${showIdentity(id)}) returned ${
              showWord(got)
            } (the smallest identity found that fails)`,
            expected: `${name} (${hex3(offset)}) to read ${hex32(want)}, the device's ${
              name === "DeviceID" ? "deviceId" : "vendorId"
            } as an unsigned 32-bit number`,
            note: typeof got === "number" && got < 0
              ? "Values from bit operators like `| 0` are signed: `x >>> 0` keeps a 32-bit value unsigned."
              : undefined,
          });
        }
      },
    },
    {
      name: "readIdentification answers only its four registers",
      requirement: "4.2.2.1/1",
      hint: 1,
      expects:
        "readIdentification to return undefined for every offset but 0x000, 0x004, 0x008 and 0x00c, so the register file answers Status, QueueNumMax and the others itself",
      run(impl) {
        const identity = IDENTITIES[0];
        for (let offset = 0; offset < 0x200; offset++) {
          if ([0x000, 0x004, 0x008, 0x00c].includes(offset)) continue;
          const got = impl.readIdentification(offset, identity);
          if (got === undefined) continue;
          fail({
            observed: `readIdentification(${hex3(offset)}, ${showIdentity(identity)}) returned ${
              describe(got)
            }; ${registerAt(offset)} is not an identification register`,
            expected:
              "undefined for every other offset: the register file asks readIdentification first " +
              "on every read, and answers from its other registers only when it gets undefined " +
              "(a 0 there would make Status, QueueNumMax, ConfigGeneration... all read 0)",
          });
        }
      },
    },
    {
      name: "control registers take only aligned 32-bit accesses",
      requirement: "4.2.2.2/2",
      hint: 2,
      expects: "8-bit, 16-bit and misaligned accesses below 0x100 to be refused (4.2.2.2/2)",
      run(impl) {
        sweepAccesses(impl, controlAccesses([1, 2, 4], 2, true));
      },
    },
    {
      name: "only registers of the table, each in its own direction",
      requirement: "4.2.2.2/1",
      hint: 2,
      expects:
        "an aligned 32-bit access to be allowed exactly when the offset is a register of the §4.2.2 table and the access goes its way (R: read, W: write, RW: both)",
      run(impl) {
        sweepAccesses(impl, controlAccesses([4], 2, false));
      },
    },
    {
      name: "configuration space (0x100 and up) is left to the device",
      requirement: "4.2.2.2/1",
      hint: 2,
      expects:
        "every access at 0x100 or above to pass as { ok: true, register: null }: the device checks configuration fields itself",
      run(impl) {
        const cases: [number, number, AccessKind, 1 | 2][] = [];
        for (let offset = 0x100; offset < 0x200; offset++) {
          for (const width of [1, 2, 4]) {
            for (const kind of ["read", "write"] as const) cases.push([offset, width, kind, 2]);
          }
        }
        sweepAccesses(impl, cases);
      },
    },
    {
      name: "the legacy layout (version 1) has its own registers",
      requirement: "4.2.2.2/1",
      hint: 2,
      expects:
        "checkRegisterAccess(offset, 4, kind, 1) to follow the legacy table of §4.2.4 (GuestPageSize, QueuePFN... and no QueueReady, QueueDescLow...)",
      run(impl) {
        sweepAccesses(impl, controlAccesses([4], 1, false));
      },
    },
    // ------------------------------------------------------- driver side
    {
      name: "probeWindow identifies a device: MagicValue, Version, DeviceID, then VendorID",
      requirement: "4.2.3.1.1/1",
      hint: 3,
      expects:
        "the driver to read and check MagicValue and Version first, then DeviceID, then VendorID, and report the device it found",
      run(impl) {
        const devices: FakeDevice[] = [
          { magic: MAGIC, version: 2, deviceId: 2, vendorId: QEMU_VENDOR },
          { magic: MAGIC, version: 2, deviceId: 3, vendorId: 0xffff_fff0 },
        ];
        for (const dev of devices) {
          const { window, accesses } = fakeWindow(dev);
          const found = impl.probeWindow(window) as ProbeResult;
          expectOnlyReads(accesses, "4.2.3.1.1/1");
          if (found?.kind !== "device") {
            fail({
              observed:
                `on a window with MagicValue 0x74726976, Version 2 and DeviceID ${dev.deviceId}, ` +
                `probeWindow returned ${showProbe(found)} (accesses: ${
                  describeAccesses(accesses)
                })`,
              expected: `a device: { kind: "device", deviceId: ${dev.deviceId}, vendorId: ${
                hex32(dev.vendorId)
              }, version: 2 }`,
            });
          }
          const order = accesses.map((a) => a.offset);
          const want = [0x000, 0x004, 0x008, 0x00c];
          if (order.join() !== want.join()) {
            fail({
              observed: `probeWindow read ${describeAccesses(accesses)}`,
              expected:
                "the reads MagicValue (0x000), Version (0x004), DeviceID (0x008), VendorID (0x00c), in that order and once each",
            });
          }
          expectEqual(
            found,
            { kind: "device", deviceId: dev.deviceId, vendorId: dev.vendorId, version: 2 },
            `probeWindow's result for a window with DeviceID ${dev.deviceId} and VendorID ${
              hex32(dev.vendorId)
            }`,
            { format: showProbe },
          );
        }
      },
    },
    {
      name: 'probeWindow ignores a bad MagicValue, such as 0x76697274 ("virt" byte-swapped)',
      requirement: "4.2.2.2/4",
      hint: 3,
      expects:
        'a window whose MagicValue is not 0x74726976 to be ignored: { kind: "rejected", requirement: "4.2.2.2/4" }',
      async run(impl) {
        for (const magic of [SWAPPED_MAGIC, 0x0000_0000, 0xffff_ffff]) {
          const { window, accesses } = fakeWindow({
            magic,
            version: 2,
            deviceId: 2,
            vendorId: QEMU_VENDOR,
          });
          const found = impl.probeWindow(window) as ProbeResult;
          const note = magic === SWAPPED_MAGIC ? NETBSD_SWAP_NOTE : undefined;
          expectOnlyReads(accesses, "4.2.2.2/4");
          if (
            found?.kind !== "rejected" || found.requirement !== "4.2.2.2/4" ||
            found.magic !== magic
          ) {
            fail({
              observed: `probeWindow on a window whose MagicValue reads ${hex32(magic)} returned ${
                showProbe(found)
              }`,
              expected: `{ kind: "rejected", requirement: "4.2.2.2/4", magic: ${
                hex32(magic)
              }, version: 0, reason }: a MagicValue other than 0x74726976 is not a virtio device`,
              note,
            });
          }
          expectReadsWithin(
            accesses,
            [0x000, 0x004],
            "the driver to stop at a bad MagicValue: DeviceID and the rest are not read",
            "4.2.3.1.1/1",
          );
        }
        // The same on the lab machine: both devices answer "virt" byte-swapped.
        // (No empty slot on this machine: this check is about the two devices.)
        const machine = await bootWithLearnerParts({
          emptySlot: false,
          device: { readIdentification: swappedMagic },
          driver: { probeWindow: impl.probeWindow },
        });
        await withMachine(machine, () => {
          for (const d of machine.devices()) {
            if (d.state !== "rejected") {
              fail({
                observed:
                  `on a lab machine whose devices read MagicValue as 0x76697274, ${d.node} ` +
                  `ended up ${d.state} (${d.type})`,
                expected: "the guest to ignore both devices (state rejected) and bind no driver",
                note: NETBSD_SWAP_NOTE,
              });
            }
          }
          const byDriver = machine.log.find({ role: "driver" });
          if (byDriver.length > 0) {
            fail({
              observed: `probing the byte-swapped devices broke a rule: ${
                describeViolation(byDriver[0])
              }`,
              expected: "a rejected window to be left alone",
              requirement: byDriver[0].id,
            });
          }
        });
      },
    },
    {
      name: "probeWindow ignores a Version other than 2, the legacy 1 included",
      requirement: "4.2.2.2/5",
      hint: 3,
      expects:
        'a window whose Version is not 2 to be ignored: { kind: "rejected", requirement: "4.2.2.2/5" }',
      async run(impl) {
        for (const version of [1, 0, 3]) {
          const { window, accesses } = fakeWindow({
            magic: MAGIC,
            version,
            deviceId: 2,
            vendorId: QEMU_VENDOR,
          });
          const found = impl.probeWindow(window) as ProbeResult;
          expectOnlyReads(accesses, "4.2.2.2/5");
          if (
            found?.kind !== "rejected" || found.requirement !== "4.2.2.2/5" ||
            found.version !== version
          ) {
            fail({
              observed: `probeWindow on a window whose Version reads ${version} returned ${
                showProbe(found)
              }`,
              expected:
                `{ kind: "rejected", requirement: "4.2.2.2/5", magic: 0x74726976, version: ${version}, reason }`,
              note: version === 1
                ? "Version 1 is the legacy layout of §4.2.4 (page-based queues through GuestPageSize and QueuePFN, no QueueReady, no FEATURES_OK): " +
                  "a version 2 driver must not drive it. QEMU's virtio-mmio devices still default to it " +
                  "unless started with -global virtio-mmio.force-legacy=false."
                : undefined,
            });
          }
          expectReadsWithin(
            accesses,
            [0x000, 0x004],
            "the driver to stop at a Version it does not speak: DeviceID and the rest are not read",
            "4.2.3.1.1/1",
          );
        }
        const machine = await bootWithLearnerParts({
          emptySlot: false,
          device: { readIdentification: legacyVersion },
          driver: { probeWindow: impl.probeWindow },
        });
        await withMachine(machine, () => {
          for (const d of machine.devices()) {
            if (d.state !== "rejected") {
              fail({
                observed:
                  `on a lab machine whose devices report Version 1, ${d.node} ended up ${d.state}`,
                expected: "the guest to ignore both legacy devices and bind no driver",
              });
            }
          }
          failOnViolations(
            machine.log,
            "probing two legacy devices",
            "a legacy device to be skipped without touching it",
          );
        });
      },
    },
    {
      name: "probeWindow stops at DeviceID 0 and touches nothing else",
      requirement: "4.2.3.1.1/2",
      hint: 4,
      expects:
        "after reading DeviceID 0, no access to any other register of the window (the empty slot logs every one, and this log is strict)",
      run(impl) {
        const log = new ConformanceLog({ strict: true });
        const slot = new EmptyMmioSlot(log, "virtio_mmio@0x1e400");
        const { window, accesses } = recordingWindow(windowOf(slot, 0x1e400));
        try {
          impl.probeWindow(window);
        } catch (error) {
          const violation = (error as { violation?: Violation }).violation;
          if (!violation) throw error;
          fail({
            observed: `the empty slot reported ${describeViolation(violation)} (accesses: ${
              describeAccesses(accesses)
            })`,
            expected:
              "the driver to read MagicValue, Version and DeviceID, see 0, and stop: nothing else is read or written",
            requirement: violation.id,
          });
        }
        const want = [0x000, 0x004, 0x008];
        if (accesses.map((a) => a.offset).join() !== want.join()) {
          fail({
            observed: `probeWindow made ${describeAccesses(accesses)} in an empty slot`,
            expected: "exactly three reads: MagicValue (0x000), Version (0x004), DeviceID (0x008)",
          });
        }
      },
    },
    {
      name: "an empty slot is skipped silently, not reported",
      requirement: "4.2.2.2/6",
      hint: 4,
      expects:
        'a window whose DeviceID is 0 to give { kind: "empty" }: it is a placeholder, not an error to report',
      run(impl) {
        const slot = new EmptyMmioSlot(new ConformanceLog(), "virtio_mmio@0x1e400");
        const found = impl.probeWindow(windowOf(slot, 0x1e400)) as ProbeResult;
        if (found?.kind !== "empty") {
          fail({
            observed: `probeWindow on an empty slot (DeviceID 0) returned ${showProbe(found)}`,
            expected: found?.kind === "rejected"
              ? '{ kind: "empty" }: a "rejected" window is reported as an error by the virtio bus, an empty slot must not be'
              : '{ kind: "empty" } for DeviceID 0',
          });
        }
      },
    },
    // ------------------------------------------------------- both sides, for real
    {
      name: "your window code runs the lab machine",
      requirement: "4.2.3.1.1/1",
      hint: 4,
      expects:
        "the lab machine, built with your readIdentification, checkRegisterAccess and probeWindow on a strict conformance log, to find the disk and the console, skip the empty slot and read sector 2",
      async run(impl) {
        const machine = await bootWithLearnerParts({
          strict: true,
          device: {
            readIdentification: impl.readIdentification,
            checkRegisterAccess: impl.checkRegisterAccess,
          },
          driver: { probeWindow: impl.probeWindow },
        });
        await withMachine(machine, async () => {
          await expectMachineRuns(machine, "the machine to come up on your code");
          failOnViolations(
            machine.log,
            "the bring-up of the lab machine",
            "a bring-up that breaks no rule",
          );
        });
      },
    },
    {
      name: "your register file refuses what a driver may not do, on the lab machine",
      requirement: "4.2.2.2/2",
      hint: 2,
      expects:
        "the lab machine's register file, built on your functions, to log a 16-bit read of Status (4.2.2.2/2), a read of QueueNotify and a write of DeviceID (4.2.2.2/1), and still answer the registers that were used properly",
      async run(impl) {
        const machine = await bootWithLearnerParts({
          device: {
            readIdentification: impl.readIdentification,
            checkRegisterAccess: impl.checkRegisterAccess,
          },
        });
        await withMachine(machine, () => {
          const bus = machine.bus;
          const base = 0x1e000;
          failOnViolations(machine.log, "the bring-up", "a bring-up that breaks no rule");
          expectEqual(bus.read32(base + 0x070), 0x0f, "Status (0x070) after the bring-up", {
            format: (v) => hex(v, 2),
            requires:
              "Status to read 0x0f (ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK) once the driver is live",
          });
          const broken: [string, string, () => unknown][] = [
            ["4.2.2.2/2", "a 16-bit read of Status (0x070)", () => bus.read16(base + 0x070)],
            ["4.2.2.2/1", "a 32-bit read of QueueNotify (0x050)", () => bus.read32(base + 0x050)],
            ["4.2.2.2/1", "a 32-bit write to DeviceID (0x008)", () => bus.write32(base + 0x008, 7)],
          ];
          for (const [id, what, act] of broken) {
            machine.log.clear();
            act();
            expectViolation(machine.log, id, what, {
              requires: `${what} to be refused and logged as breaking ${id}`,
            });
          }
          expectEqual(bus.read32(base + 0x008), 2, "DeviceID (0x008) after the refused write", {
            requires: "a refused write to change nothing: DeviceID still reads 2 (virtio-blk)",
          });
          expectEqual(bus.read32(base), MAGIC, "MagicValue (0x000)", { format: showWord });
        });
      },
    },
  ],
});
