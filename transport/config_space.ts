/**
 * The device side of device configuration space (virtio v1.2 §2.5, §4.2.2:
 * offset 0x100 of the MMIO window on): the rules a driver's access must keep,
 * and what a change of the configuration does to `ConfigGeneration` and
 * `InterruptStatus`, as pure functions. The register file
 * (`MmioDeviceTransport`) serves or drops the access as the verdict says and
 * logs its problems.
 *
 * @module
 */

import type { AccessWidth, ConfigField } from "../virtio/device.ts";
import { featureNames, formatFeatures, hasFeature } from "../virtio/features.ts";
import {
  formatStatus,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
} from "../virtio/status.ts";
import { hex3, VIRTIO_MMIO_CONFIG } from "./mmio_registers.ts";
import type { RuleProblem } from "./types.ts";

/** What {@linkcode checkConfigAccess} knows of the device's configuration space. */
export interface ConfigSpaceView {
  /** Size of configuration space in bytes. */
  readonly size: number;
  /** Its fields (for widths, feature-gated fields, writability). */
  readonly layout: readonly ConfigField[];
  /** The features the device offers (after any feature mask): a field gated on another does not exist. */
  readonly offered: bigint;
  /** Names of device-specific feature bits, for messages. */
  readonly featureNames?: Readonly<Record<number, string>>;
  /** The device status byte. */
  readonly status: number;
}

/** How the register file answers a configuration access. */
export interface ConfigAccessVerdict {
  /**
   * Pass the access to the device model (`readConfig`/`writeConfig`). When
   * `false`, a read returns 0 and a write changes nothing.
   */
  readonly serve: boolean;
  /** Rules the access broke, in the order found. */
  readonly problems: readonly RuleProblem[];
}

/**
 * Checks a driver's access to configuration space (§2.5, §4.2.2.2, §3.1.1):
 *
 * - bytes beyond the device's configuration space are not served: reads
 *   return 0, writes are ignored (4.2.2.2/1);
 * - a field is accessed at its own width, aligned: 8-bit for a u8, 16-bit for
 *   a u16, 32-bit for a u32 and for each half of a u64 (4.2.2.2/3). A wrong
 *   width is reported and served anyway, as QEMU serves it;
 * - a field that exists only with a feature the device does not offer breaks
 *   2.5.1/1 (served anyway: the bytes read as the device model has them);
 * - reads are served at any time, before FEATURES_OK too (2.5.2/1);
 * - writes reach only writable fields (others change nothing), and not while
 *   the driver negotiates features, between DRIVER and FEATURES_OK (3.1.1/2:
 *   reported, then applied), unless the field may be written at any time
 *   (`emerg_wr`, §5.3.5.1/1).
 *
 * @param offset Offset inside configuration space (the window offset minus 0x100), in bytes.
 * @param width Access width in bytes.
 * @param kind `"read"` or `"write"`.
 * @param space The device's configuration layout, offered features and status.
 * @returns Whether to serve the access, and the problems to log.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConfigAccess } from "./config_space.ts";
 * const space = {
 *   size: 8,
 *   layout: [{ name: "capacity", offset: 0, size: 8 as const }],
 *   offered: 0n,
 *   status: 0,
 * };
 * assert.deepEqual(checkConfigAccess(0, 4, "read", space).problems, []); // low half of a u64
 * assert.equal(checkConfigAccess(0, 2, "read", space).problems[0].id, "4.2.2.2/3");
 * assert.equal(checkConfigAccess(6, 4, "read", space).serve, false); // beyond the 8 bytes
 * ```
 */
export function checkConfigAccess(
  offset: number,
  width: AccessWidth,
  kind: "read" | "write",
  space: ConfigSpaceView,
): ConfigAccessVerdict {
  const where = `config offset ${hex3(offset)}`;
  const window = hex3(VIRTIO_MMIO_CONFIG + offset);
  if (offset < 0 || offset + width > space.size) {
    return {
      serve: false,
      problems: [{
        id: "4.2.2.2/1",
        message: `${width * 8}-bit ${kind} at ${where}, beyond the device's ${space.size}-byte ` +
          "configuration space",
        values: { offset: window, width },
        action: kind === "read" ? "read returned 0" : "write ignored",
      }],
    };
  }
  const problems: RuleProblem[] = [];
  const field = space.layout.find((f) => offset >= f.offset && offset < f.offset + f.size) ??
    null;
  if (field) {
    const required = field.size <= 2 ? field.size : 4;
    if (
      width !== required || offset % required !== 0 || offset + width > field.offset + field.size
    ) {
      problems.push({
        id: "4.2.2.2/3",
        message: `${width * 8}-bit ${kind} of ${field.size * 8}-bit field ${field.name} at ` +
          `${where}; it takes ${required * 8}-bit aligned accesses`,
        values: { offset: window, width, field: field.name },
      });
    }
    if (field.feature !== undefined && !hasFeature(space.offered, field.feature)) {
      const name = featureNames(1n << BigInt(field.feature), space.featureNames ?? {})[0];
      problems.push({
        id: "2.5.1/1",
        message: `${kind === "read" ? "Read" : "Write"} of ${field.name}, which exists only ` +
          `with ${name}, not offered`,
        values: { field: field.name, offered: formatFeatures(space.offered) },
      });
    }
  }
  if (kind === "read") return { serve: true, problems };
  if (!field?.writable) return { serve: false, problems };
  const negotiating = (space.status & VIRTIO_CONFIG_S_DRIVER) !== 0 &&
    (space.status & VIRTIO_CONFIG_S_FEATURES_OK) === 0;
  if (negotiating && !field.anytime) {
    problems.push({
      id: "3.1.1/2",
      message: `Write to ${field.name} during feature negotiation (status ${
        formatStatus(space.status)
      })`,
      values: { field: field.name },
    });
  }
  return { serve: true, problems };
}

/** What a change of the configuration does. */
export interface ConfigChange {
  /** `ConfigGeneration` afterwards. */
  readonly configGeneration: number;
  /** Send a configuration change notification (raise `VIRTIO_MMIO_INT_CONFIG`). */
  readonly notify: boolean;
}

/**
 * The device changed its configuration (a console resized, a disk grew):
 * `ConfigGeneration` takes a new value every time, counting up by one and
 * wrapping at 2^32, so a driver in the middle of a multi-field read sees the
 * change, however many happen during it, and reads again (4.2.2.1/6, §2.5.1);
 * the driver hears of it through a configuration change notification once it
 * has set DRIVER_OK, and not before: a driver still initializing reads the
 * configuration it needs anyway (3.2.1/D1, §3.2.1; QEMU's
 * `virtio_notify_config` sends nothing before DRIVER_OK either).
 *
 * @param configGeneration `ConfigGeneration` before (u32).
 * @param status The device status byte.
 * @returns The new generation (wrapping at 2^32) and whether to notify.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configChanged } from "./config_space.ts";
 * assert.deepEqual(configChanged(0xffff_ffff, 0x0f), { configGeneration: 0, notify: true });
 * assert.equal(configChanged(7, 0x0b).notify, false); // no DRIVER_OK yet
 * ```
 */
export function configChanged(configGeneration: number, status: number): ConfigChange {
  return {
    configGeneration: (configGeneration + 1) >>> 0,
    notify: (status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0,
  };
}
