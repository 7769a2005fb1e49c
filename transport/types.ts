/**
 * The MMIO-specific contracts of the virtio-mmio transport (virtio v1.2
 * §4.2): what the MMIO bus maps and how interrupts leave a window
 * ({@linkcode MmioRegion}, {@linkcode InterruptLine}), and what the driver
 * side sees of a window ({@linkcode RegisterWindow}). The transport-neutral
 * device and driver contracts live in `virtio/device.ts` and
 * `virtio/driver.ts`.
 *
 * @module
 */

import type { AccessWidth } from "../virtio/device.ts";
import type { RequirementId } from "../conformance/requirements.ts";
import type { ViolationValue } from "../conformance/log.ts";

export type { AccessWidth };

/**
 * A rule the other side broke, as a pure check finds it: what its caller
 * reports to the conformance log (`ConformanceReporter.report(id, message,
 * values, action)`). The checks return these instead of logging, so that they
 * can be graded and replaced without a log in sight.
 */
export interface RuleProblem {
  /** Requirement id, e.g. `"2.7.1/1"`. */
  readonly id: RequirementId;
  /** What happened, in one sentence with the values that matter. */
  readonly message: string;
  /** The offending values, by name (queue index, address, length, ...). */
  readonly values: Readonly<Record<string, ViolationValue>>;
  /** What the checking side does about it, e.g. `"write ignored"`; absent when it only logs. */
  readonly action?: string;
}

/** An interrupt line from a window to the interrupt controller (level-triggered). */
export interface InterruptLine {
  /** The line number (the device tree's `interrupts` value). */
  readonly irq: number;
  /**
   * Sets the level: `true` while any `InterruptStatus` bit is set.
   *
   * @param level The new level.
   */
  set(level: boolean): void;
}

/** Anything the MMIO bus can map into a window: a transport's register file. */
export interface MmioRegion {
  /** Size of the window, in bytes (0x200 for virtio-mmio). */
  readonly size: number;
  /**
   * Handles a read inside the window.
   *
   * @param offset Offset from the window base, in bytes.
   * @param width Access width in bytes.
   * @returns The unsigned value read.
   */
  read(offset: number, width: AccessWidth): number;
  /**
   * Handles a write inside the window.
   *
   * @param offset Offset from the window base, in bytes.
   * @param width Access width in bytes.
   * @param value The unsigned value written.
   */
  write(offset: number, width: AccessWidth, value: number): void;
  /**
   * Connects the region's interrupt output; called by the bus when mapping.
   *
   * @param line The line to drive.
   */
  connectInterrupt?(line: InterruptLine): void;
}

/**
 * A window of MMIO space as the driver sees it: loads and stores at offsets
 * from the window base, like `readl`/`writel` on an `ioremap`ped region.
 */
export interface RegisterWindow {
  /** Guest-physical base address of the window. */
  readonly base: number;
  /** Size of the window, in bytes. */
  readonly size: number;
  /** 32-bit load at `offset`. */
  read32(offset: number): number;
  /** 32-bit store at `offset`. */
  write32(offset: number, value: number): void;
  /** 16-bit load at `offset`. */
  read16(offset: number): number;
  /** 16-bit store at `offset`. */
  write16(offset: number, value: number): void;
  /** 8-bit load at `offset`. */
  read8(offset: number): number;
  /** 8-bit store at `offset`. */
  write8(offset: number, value: number): void;
}
