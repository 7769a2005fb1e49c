/**
 * The grader of "Capstone: your machine". First, that every part of the machine the course
 * teaches is written (each unfinished one named with the lesson it belongs to). Then the driver
 * core: `bindDriver` over empty slots, rejected windows, unknown and known DeviceIDs, duplicate
 * registrations and a driver that drives another type; `initializeDevice` on a real register
 * file, with each step made to fail in turn and a device that answers DRIVER_OK with
 * DEVICE_NEEDS_RESET. Last, the whole machine on every part at once: 10,000 hostile chains
 * against the device half of the ring, 10,000 hostile used rings against the driver half, and
 * the lab machine on a strict log (the shell over the console, a real ext2 image through the
 * block stack, within 20 times the reference's time).
 *
 * @module
 */

import { type Check, defineGrader, fail, isNotWrittenYet } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import manifest from "../manifest.json" with { type: "json" };
// The earlier lessons' parts, to say which lesson an unwritten part belongs to (static imports:
// the grading sandbox reads the module graph only). A lesson added to the course is added here.
import mmioWindow from "../01-mmio-window/lesson.json" with { type: "json" };
import statusReset from "../02-status-reset/lesson.json" with { type: "json" };
import featureNegotiation from "../03-feature-negotiation/lesson.json" with { type: "json" };
import virtqueueLayout from "../04-virtqueue-layout/lesson.json" with { type: "json" };
import queueSetup from "../05-queue-setup/lesson.json" with { type: "json" };
import descriptorChains from "../06-descriptor-chains/lesson.json" with { type: "json" };
import availableRing from "../07-available-ring/lesson.json" with { type: "json" };
import notifications from "../08-notifications/lesson.json" with { type: "json" };
import devicePop from "../09-device-pop/lesson.json" with { type: "json" };
import usedRing from "../10-used-ring/lesson.json" with { type: "json" };
import interrupts from "../11-interrupts/lesson.json" with { type: "json" };
import indirectDescriptors from "../12-indirect-descriptors/lesson.json" with { type: "json" };
import eventIdx from "../13-event-idx/lesson.json" with { type: "json" };
import configSpace from "../14-config-space/lesson.json" with { type: "json" };
import consoleLesson from "../15-console/lesson.json" with { type: "json" };
import blkRequests from "../16-blk-requests/lesson.json" with { type: "json" };
import blkLimits from "../17-blk-limits/lesson.json" with { type: "json" };
import { findPart } from "../../parts.ts";
import { thrown } from "../kit/rules.ts";
import { fuzzHostileChains, fuzzHostileCompletions, showFuzzCrash } from "../kit/hostile_fuzz.ts";
import { featuresThrough } from "../kit/machine.ts";
import { wholeMachineCheck } from "../kit/whole_machine.ts";
import { VIRTIO_F_INDIRECT_DESC } from "../../virtio/features.ts";
import {
  BIND_ROWS,
  type CoreRun,
  INIT_ROWS,
  runBind,
  runInit,
  showBind,
} from "../kit/driver_core.ts";

type Impl = typeof Exercise;

/** Which lesson teaches each part: `{ number, id }` by part name. */
const EARLIER = {
  "01-mmio-window": mmioWindow,
  "02-status-reset": statusReset,
  "03-feature-negotiation": featureNegotiation,
  "04-virtqueue-layout": virtqueueLayout,
  "05-queue-setup": queueSetup,
  "06-descriptor-chains": descriptorChains,
  "07-available-ring": availableRing,
  "08-notifications": notifications,
  "09-device-pop": devicePop,
  "10-used-ring": usedRing,
  "11-interrupts": interrupts,
  "12-indirect-descriptors": indirectDescriptors,
  "13-event-idx": eventIdx,
  "14-config-space": configSpace,
  "15-console": consoleLesson,
  "16-blk-requests": blkRequests,
  "17-blk-limits": blkLimits,
};
/** The earlier lesson that teaches each part, by part name: "lesson 9 (device-pop)". */
const TAUGHT_BY = new Map<string, string>();
for (const [dir, json] of Object.entries(EARLIER)) {
  const n = manifest.lessons.findIndex((l) => l.dir === dir) + 1;
  for (const key of json.parts) {
    TAUGHT_BY.set(findPart(key)!.name, `lesson ${n} (${manifest.lessons[n - 1].id})`);
  }
}

/**
 * A check whose failure on a part of an earlier lesson that is still its stub says which lesson
 * to finish, instead of only that the part is not written.
 */
function teaching(check: Check<Impl>): Check<Impl> {
  return {
    ...check,
    async run(impl) {
      try {
        await check.run(impl);
      } catch (error) {
        const what = (error as { what?: unknown }).what;
        const where = typeof what === "string" ? TAUGHT_BY.get(what) : undefined;
        if (!isNotWrittenYet(error) || where === undefined) throw error;
        fail({
          observed: `${what}() is not written yet: it is your part from ${where}`,
          expected: `${check.expects ?? check.name}, on your parts of every lesson`,
          note: "this exercise's export * lines bring in your own exercise.ts of every earlier " +
            `lesson: finish ${where.split(" (")[0]} first (deno task lab check ${
              where.split(" ")[1]
            } shows what is missing), then check again`,
        });
      }
    },
  };
}

const EXPECTS_MACHINE =
  "the lab machine to run on your parts alone, on a strict log: both devices " +
  "brought up in the order of §3.1.1 and bound by DeviceID, the shell served over the console, a " +
  "real disk image read and written";

export const grader = defineGrader<Impl>({
  lesson: "capstone",
  checks: ([
    ...BIND_ROWS.map((c) => ({
      name: c.name,
      requirement: c.requirement,
      hint: c.hint,
      expects: c.why,
      run(impl: Impl) {
        for (const input of c.cases) {
          const mine = runBind(impl.bindDriver, input);
          const want = runBind(c.reference, input);
          if (c.verdict(mine) !== c.verdict(want)) {
            if (mine.threw !== undefined && isNotWrittenYet(mine.threw)) throw mine.threw;
            fail({
              observed: `bindDriver(${input.show}) ${showBind(mine)}`,
              expected: `${c.why}; the reference ${showBind(want)}`,
            });
          }
        }
      },
    })),
    ...INIT_ROWS.map((c) => ({
      name: c.name,
      requirement: c.requirement,
      hint: c.hint,
      expects: c.why,
      async run(impl: Impl) {
        for (const input of c.cases) {
          const mine: CoreRun = await runInit(impl.initializeDevice, input);
          const want: CoreRun = await runInit(c.reference, input);
          const [a, b] = [c.verdict(mine), c.verdict(want)];
          if (a !== b) {
            if (mine.threw !== undefined && isNotWrittenYet(mine.threw)) throw mine.threw;
            fail({
              observed: `initializeDevice on ${input.show}: ${mine.story}`,
              expected: `${c.why}; the reference: ${want.story}`,
            });
          }
        }
      },
    })),
    {
      name: "10,000 hostile chains: your device half never crashes",
      requirement: "2.7.5/D2",
      hint: 4,
      expects: "the device half to survive any driver: never throw, never loop, never write the " +
        "driver's areas, never take a chain outside RAM or longer than Queue Size",
      run(impl) {
        const report = fuzzHostileChains(
          {
            walkChain: impl.walkChain,
            readIndirectTable: impl.readIndirectTable,
            availableCount: impl.availableCount,
            availHead: impl.availHead,
            updateAvailEvent: impl.updateAvailEvent,
          },
          {
            runs: 10_000,
            seed: 18,
            indirect: (featuresThrough("capstone") & (1n << BigInt(VIRTIO_F_INDIRECT_DESC))) !== 0n,
          },
        );
        if (report.crash) {
          fail({
            observed: showFuzzCrash(report.crash) +
              (report.crash.error !== undefined ? ` (${thrown(report.crash.error)})` : ""),
            expected: "a device half that reports what a hostile driver broke and stays standing",
            requirement: report.crash.requirement,
          });
        }
      },
    },
    {
      name: "10,000 hostile used rings: your driver half never crashes",
      requirement: "2.7.8/D1",
      hint: 4,
      expects:
        "the driver half to survive any device: hand back only chains it posted, each once, " +
        "never longer than its writable buffers, never throw or loop",
      run(impl) {
        const report = fuzzHostileCompletions(
          {
            getBuf: impl.getBuf,
            moreUsed: impl.moreUsed,
            updateUsedEvent: impl.updateUsedEvent,
            addChain: impl.addChain,
            addIndirectChain: impl.addIndirectChain,
            addBuffers: impl.addBuffers,
            detachChain: impl.detachChain,
            placeAvailEntry: impl.placeAvailEntry,
            publishAvail: impl.publishAvail,
          },
          { runs: 10_000, seed: 18 },
        );
        if (report.crash) {
          fail({
            observed: showFuzzCrash(report.crash) +
              (report.crash.error !== undefined ? ` (${thrown(report.crash.error)})` : ""),
            expected: "a driver half that refuses what a hostile device wrote and stays standing",
            requirement: report.crash.requirement,
          });
        }
      },
    },
    wholeMachineCheck<Impl>({
      name: "the whole machine runs on your parts",
      id: "capstone",
      lesson,
      requirement: "3.1.1/6",
      hint: 4,
      expects: EXPECTS_MACHINE,
    }),
  ] as Check<Impl>[]).map(teaching),
});
