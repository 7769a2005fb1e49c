/**
 * The learner's own transport parts, for `lab boot --mine`: every function a
 * passed lesson's exercise exports under the name of a machine part (the
 * device side's `checkRegisterAccess`, `readIdentification`,
 * `nextDeviceStatus`, `checkDriverFeatures`; the driver side's `probeWindow`,
 * `beginInitialization`, `failDevice`, `negotiateFeatures`) replaces the
 * reference one, so the guest boots and serves the disk on the learner's code.
 *
 * @module
 */

import { defaultCourseRoot, fileUrl } from "../course/paths.ts";
import { loadCourse } from "../course/manifest.ts";
import { Workspace } from "../course/workspace.ts";
import { type MmioDeviceParts, REFERENCE_MMIO_DEVICE_PARTS } from "../transport/mmio_device.ts";
import { type MmioDriverParts, REFERENCE_MMIO_DRIVER_PARTS } from "../transport/mmio_driver.ts";
import type { MachineParts } from "../machine.ts";
import { EXIT_FAILURE, UserError } from "./errors.ts";

/** One part taken from the learner's workspace. */
export interface LearnerPart {
  /** The part's name, e.g. `"probeWindow"`. */
  readonly name: string;
  /** Which side of the transport it belongs to. */
  readonly side: "device" | "driver";
  /** The lesson number it comes from. */
  readonly lesson: number;
}

/** The parts found and what was skipped. */
export interface LearnerParts {
  /** Ready for `createMachine({ parts })`. */
  readonly parts: MachineParts;
  /** Every replaced part, in lesson order. */
  readonly used: readonly LearnerPart[];
  /** Lessons not used because they do not pass yet, by number. */
  readonly skipped: readonly number[];
}

/**
 * Loads the machine parts of every lesson the learner has passed.
 *
 * @returns The parts, which ones were used, and which lessons were skipped.
 * @throws {UserError} When a passed lesson's exercise no longer loads.
 */
export async function learnerParts(): Promise<LearnerParts> {
  const course = loadCourse(defaultCourseRoot());
  const workspace = await Workspace.open(course);
  const device: Partial<Record<keyof MmioDeviceParts, unknown>> = {};
  const driver: Partial<Record<keyof MmioDriverParts, unknown>> = {};
  const used: LearnerPart[] = [];
  const skipped: number[] = [];
  for (const lesson of course.lessons) {
    if (workspace.progress(lesson).status !== "passed") {
      skipped.push(lesson.number);
      continue;
    }
    let module: Record<string, unknown>;
    try {
      module = await import(fileUrl(workspace.exerciseFile(lesson)));
    } catch (error) {
      throw new UserError(
        `your lesson ${lesson.number} exercise no longer loads (${firstLine(error)}): ` +
          `run deno task lab check ${lesson.number}`,
        EXIT_FAILURE,
      );
    }
    for (const [name, value] of Object.entries(module)) {
      if (typeof value !== "function") continue;
      if (name in REFERENCE_MMIO_DEVICE_PARTS) {
        device[name as keyof MmioDeviceParts] = value;
        used.push({ name, side: "device", lesson: lesson.number });
      } else if (name in REFERENCE_MMIO_DRIVER_PARTS) {
        driver[name as keyof MmioDriverParts] = value;
        used.push({ name, side: "driver", lesson: lesson.number });
      }
    }
  }
  return {
    parts: {
      device: device as Partial<MmioDeviceParts>,
      driver: driver as Partial<MmioDriverParts>,
    },
    used,
    skipped,
  };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
