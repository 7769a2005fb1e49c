/**
 * The discard lesson's subjects that are not pure: the configuration layout
 * sweep ({@linkcode runLayout}), rows over the asynchronous backend work
 * ({@linkcode executeRow}), and the phase the machine check adds
 * ({@linkcode discardOnTheMachine}). The cases themselves are in
 * `blk_discard.ts`.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { type Check, expect, GradeFailure } from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import type { LabMachine } from "../../machine.ts";
import type { MemoryBlockBackend } from "../../devices/blk/backends.ts";
import type { VirtioBlockDevice } from "../../devices/blk/device.ts";
import type {
  BlockDiscardConfig,
  executeDiscardRequest,
  layoutDiscardConfig,
} from "../../devices/blk/discard.ts";
import { hasFeature } from "../../virtio/features.ts";
import { attempt, thrownFields } from "./rules.ts";
import { EXECUTE_CASES, type ExecutedDiscard, runExecute } from "./blk_discard.ts";

/** Configurations for `layoutDiscardConfig`: the lab's, one command, none, the largest, three to refuse. */
export const LAYOUT_CASES: readonly BlockDiscardConfig[] = [
  {
    discard: { maxSectors: 0x3f_ffff, maxSegments: 16, alignment: 8 },
    writeZeroes: { maxSectors: 0x3f_ffff, maxSegments: 16, mayUnmap: true },
  },
  { discard: { maxSectors: 64, maxSegments: 1, alignment: 0 }, writeZeroes: null },
  { discard: null, writeZeroes: { maxSectors: 128, maxSegments: 2, mayUnmap: false } },
  { discard: null, writeZeroes: null },
  {
    discard: { maxSectors: 0xffff_ffff, maxSegments: 0xffff_ffff, alignment: 0xffff_ffff },
    writeZeroes: { maxSectors: 0xffff_ffff, maxSegments: 0xffff_ffff, mayUnmap: true },
  },
  { discard: { maxSectors: 0, maxSegments: 4, alignment: 8 }, writeZeroes: null },
  { discard: null, writeZeroes: { maxSectors: 8, maxSegments: 0, mayUnmap: true } },
  { discard: { maxSectors: 2 ** 32, maxSegments: 1, alignment: 1 }, writeZeroes: null },
];

/** What a layout left in 72 bytes whose byte 33 (another field) holds 0x5a. */
export interface LaidOut {
  readonly threw?: string;
  readonly discard?: string;
  readonly writeZeroes?: string;
  readonly rest?: boolean;
}

/** Runs `layoutDiscardConfig` on a case: bytes 36-47 and 48-56 as hex, and whether any other changed. */
export function runLayout(part: typeof layoutDiscardConfig, c: BlockDiscardConfig): LaidOut {
  const bytes = new Uint8Array(72).fill(0);
  bytes[33] = 0x5a; // another field's byte: left alone
  const o = attempt(() => part(c, bytes));
  if (!("returned" in o)) return { threw: String(thrownFields(o).name) };
  const hex = (from: number, to: number) =>
    [...bytes.subarray(from, to)].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  const rest = bytes.some((x, i) => (i < 36 || i > 56) && x !== (i === 33 ? 0x5a : 0));
  return { discard: hex(36, 48), writeZeroes: hex(48, 57), rest };
}

const executed = new Map<typeof executeDiscardRequest, Promise<ExecutedDiscard[]>>();

/** Every execute case, run once per part, one after another, and shared by the rows. */
export function executeAll(part: typeof executeDiscardRequest): Promise<ExecutedDiscard[]> {
  let all = executed.get(part);
  if (!all) {
    all = (async () => {
      const out: ExecutedDiscard[] = [];
      for (const c of EXECUTE_CASES) out.push(await runExecute(part, c));
      return out;
    })();
    executed.set(part, all);
  }
  return all;
}

/**
 * A row over every execute case (the subject is asynchronous, so the rows
 * compare whole sweeps): the learner's verdict against the reference's.
 */
export function executeRow<I>(
  get: (impl: I) => typeof executeDiscardRequest,
  reference: typeof executeDiscardRequest,
  row: {
    name: string;
    requirement: RequirementId;
    verdict: (r: ExecutedDiscard) => unknown;
    why: string;
  },
): Check<I> {
  return {
    name: row.name,
    requirement: row.requirement,
    hint: 2,
    expects: row.why,
    async run(impl) {
      const mine = await executeAll(get(impl));
      const want = await executeAll(reference);
      for (const [i, c] of EXECUTE_CASES.entries()) {
        expect(JSON.stringify(row.verdict(mine[i])) === JSON.stringify(row.verdict(want[i])), {
          observed: `executeDiscardRequest on ${c.name}: ${showExecuted(mine[i])}`,
          expected: `${row.why}: ${showExecuted(want[i])}`,
        });
      }
    },
  };
}

/** An execute observation, in words. */
export const showExecuted = (r: ExecutedDiscard): string =>
  `${r.outcome}; calls ${r.calls.join(", ") || "(none)"}${
    r.unsignalled ? `; ${r.unsignalled} without options.signal` : ""
  }${r.pendingAtSettle ? `; settled with ${r.pendingAtSettle} call(s) running` : ""}`;

/**
 * The lesson's last machine phase, on a machine whose disk is the kit's 1 MiB
 * patterned disk in memory with the device's default limits: both commands
 * negotiated, 22 discard ranges (301 sectors) that fit 2 requests of 16
 * segments, 2 write zeroes with unmap, a flush; then exactly those sectors
 * read zero in the backend.
 *
 * @param machine The learner's running machine.
 * @throws {GradeFailure} Naming what is wrong.
 */
export async function discardOnTheMachine(machine: LabMachine): Promise<void> {
  const blk = machine.blk.driver!;
  const device = machine.blk.device as VirtioBlockDevice;
  const disk = device.backend as MemoryBlockBackend;
  const negotiated = machine.blk.driverTransport.features;
  if (!hasFeature(negotiated, 13) || !hasFeature(negotiated, 14) || !blk.canDiscard) {
    throw new GradeFailure({
      observed: `the block device negotiated ${
        machine.devices().find((d) => d.deviceId === 2)?.features.join(", ")
      }; discard usable: ${blk.canDiscard}`,
      expected: "VIRTIO_BLK_F_DISCARD and VIRTIO_BLK_F_WRITE_ZEROES negotiated, their limits read",
    });
  }
  const before = disk.data.slice();
  const ranges = [
    { sector: 3, count: 200 },
    { sector: 700, count: 1 },
    ...Array.from({ length: 20 }, (_, i) => ({ sector: 1000 + 10 * i, count: 5 })),
  ];
  await blk.discard(ranges);
  await blk.writeZeroes([{ sector: 1500, count: 77 }, { sector: 1600, count: 8 }], { unmap: true });
  await blk.flush();
  const want = before.slice();
  for (const r of [...ranges, { sector: 1500, count: 77 }, { sector: 1600, count: 8 }]) {
    want.fill(0, r.sector * 512, (r.sector + r.count) * 512);
  }
  const wrong = disk.data.findIndex((b, i) => b !== want[i]);
  expect(wrong < 0, {
    observed: `after the discards and write zeroes, byte ${wrong} (sector ${
      Math.floor(wrong / 512)
    }) holds 0x${disk.data[wrong]?.toString(16)}`,
    expected: "exactly the 386 sectors asked for zeroed, every other byte as it was",
  });
  const requests = device.stats.requests.discard;
  expect(requests === 2, {
    observed: `22 discard ranges went out in ${requests} request(s)`,
    expected: "2 requests: the device takes 16 segments per request, and every range fits",
  });
}
