// deno-lint-ignore-file no-unused-vars
/**
 * "Configuration space and ConfigGeneration": your exercise.
 *
 * The device side of device-specific configuration space: which accesses
 * the register file serves and which rules they break
 * ({@linkcode checkConfigAccess}), and what a change of the configuration
 * does to `ConfigGeneration` and to the configuration change notification
 * ({@linkcode configChanged}). The driver side: a read of several fields
 * that comes from one snapshot ({@linkcode readConfigConsistent}), and a
 * 64-bit field read in two 32-bit halves ({@linkcode readConfig64}). Once
 * they pass, the lab machine's configuration space runs on your code on both
 * sides (`deno task lab boot --mine`): every access the guest's drivers make
 * to it, the disk's capacity, the console's size and its resizes.
 *
 * Each doc comment below is a contract; the how is in the lesson, in §2.5,
 * §3.1.1, §3.2.1 and §4.2.2. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_MMIO_CONFIG_GENERATION, // 0x0fc (R)
 *   VIRTIO_MMIO_CONFIG,            // 0x100: configuration space starts here
 * } from "../../transport/mmio_registers.ts";
 * import {
 *   VIRTIO_CONFIG_S_DRIVER,        // 0x02
 *   VIRTIO_CONFIG_S_FEATURES_OK,   // 0x08
 *   VIRTIO_CONFIG_S_DRIVER_OK,     // 0x04
 * } from "../../virtio/status.ts";
 * import { hasFeature } from "../../virtio/features.ts"; // (features, bit) -> boolean
 * import { ConfigGenerationError } from "../../transport/driver_config.ts";
 * ```
 *
 * Check your work with `deno task lab check config-space`; stuck?
 * `deno task lab hint config-space`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type {
  ConfigAccessVerdict,
  ConfigChange,
  ConfigSpaceView,
} from "../../transport/config_space.ts";
import type { ConsistentConfigReader } from "../../transport/driver_config.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { AccessWidth } from "../../virtio/device.ts";

/**
 * Device side: may the driver make this access to configuration space, and
 * does the register file pass it to the device model? (§2.5, §3.1.1,
 * §4.2.2.2) The register file calls it for every access at 0x100 and above,
 * logs the problems you return and serves the access or not as you say: a
 * read not served returns 0, a write not served changes nothing.
 *
 * "The field" is the field of `space.layout` that holds the access's first
 * byte (`field.offset <= offset < field.offset + field.size`); a byte no field
 * holds (padding) has none. A field's width is 1 for a u8, 2 for a u16, and 4
 * for a u32 and for each half of a u64.
 *
 * | the access                                                      | problem   |
 * | --------------------------------------------------------------- | --------- |
 * | reaches past the end: `offset + width > space.size`             | `"4.2.2.2/1"`, and it is the only one |
 * | not at its field's width, or `offset` not a multiple of that width, or running past the field's last byte | `"4.2.2.2/3"` |
 * | to a field with a `feature` bit that is not in `space.offered`  | `"2.5.1/1"` |
 * | a write to a `writable` field that is not `anytime`, while `space.status` has DRIVER but not FEATURES_OK | `"3.1.1/2"` |
 *
 * `serve` is `false` for an access past the end; otherwise `true` for every
 * read, at any status, before FEATURES_OK too (2.5.2/1), and for a write
 * exactly when the field exists and is `writable`. An access may break
 * several rules: return each problem once, in any order, as
 * `{ id, message, values }` (`message` one sentence of yours, not empty;
 * `values` what you want shown, `{}` will do; `action` optional). Pure;
 * never throws.
 *
 * @param offset Offset inside configuration space (the window offset minus 0x100), in bytes.
 * @param width Access width in bytes: 1, 2 or 4.
 * @param kind `"read"` or `"write"`.
 * @param space The device's configuration layout, its size, the features it offers and its status.
 * @returns Whether to serve the access, and the rules it broke.
 * @example
 * ```ts ignore
 * const space = { size: 8, layout: [{ name: "capacity", offset: 0, size: 8 }], offered: 0n, status: 0 };
 * checkConfigAccess(4, 4, "read", space); // { serve: true, problems: [] }: the high half
 * checkConfigAccess(0, 2, "read", space); // { serve: true, problems: [{ id: "4.2.2.2/3", ... }] }
 * checkConfigAccess(6, 4, "read", space); // { serve: false, problems: [{ id: "4.2.2.2/1", ... }] }
 * ```
 */
export function checkConfigAccess(
  offset: number,
  width: AccessWidth,
  kind: "read" | "write",
  space: ConfigSpaceView,
): ConfigAccessVerdict {
  return todo(
    "checkConfigAccess",
    `decide on a ${
      width * 8
    }-bit ${kind} at offset ${offset} of a ${space.size}-byte configuration space`,
  );
}

/**
 * Device side: the device has just changed its configuration (a console was
 * resized, a disk grew). The register file stores the generation you return
 * in `ConfigGeneration` (0x0fc) and, when `notify` is true, raises the
 * configuration change bit of `InterruptStatus` (bit 1). Pure; never throws.
 *
 * - `configGeneration`: a u32 (an integer from 0 to 0xffff_ffff) other than
 *   the one given, so a driver reading across the change sees it (4.2.2.1/6).
 *   Successive changes give successive new values, so that a driver never
 *   mistakes several changes for none: counting up by one, 0xffff_ffff
 *   wrapping to 0, is what the lab's devices do; any other step that never
 *   comes back to a value within four changes is fair.
 * - `notify`: `true` exactly when `status` has DRIVER_OK (3.2.1/D1): a driver
 *   still initializing reads the configuration anyway; the generation still
 *   changes.
 *
 * @param configGeneration `ConfigGeneration` before the change (u32).
 * @param status The device status byte.
 * @returns The new generation and whether to send a configuration change notification.
 * @example
 * ```ts ignore
 * configChanged(7, 0x0f); // { configGeneration: 8, notify: true }
 * configChanged(7, 0x0b); // { configGeneration: 8, notify: false }: no DRIVER_OK yet
 * ```
 */
export function configChanged(configGeneration: number, status: number): ConfigChange {
  return todo(
    "configChanged",
    `move ConfigGeneration on from ${configGeneration} (status 0x${status.toString(16)})`,
  );
}

/**
 * Driver side: runs `read` (which reads configuration fields) so that what
 * it returns comes from one state of the configuration, however the device
 * changes it meanwhile (§2.5.1, 2.5.1/1).
 *
 * It returns what a run of `read` returned, for a run that began right after
 * a read of `ConfigGeneration` and was followed right away by a read of
 * `ConfigGeneration` that gave the same value; for no other run. It runs
 * `read` at most `maxTries` times; when no run qualifies it throws
 * `new ConfigGenerationError(maxTries, before, after)` (from
 * `transport/driver_config.ts`), with the two generations read around the
 * last run. `maxTries` that is not at least 1 (0, negative, NaN) throws a
 * `RangeError` before any access.
 *
 * It touches nothing but `ConfigGeneration` (0x0fc), with 32-bit reads
 * (4.2.2.2/2); how many reads it makes beyond the two around each run is
 * free (the one after a run may serve as the one before the next).
 *
 * @typeParam R What `read` returns.
 * @param window The window's registers.
 * @param read Reads the fields; may run several times.
 * @param maxTries Runs of `read` allowed before giving up (default 100).
 * @returns What `read` returned on a run the generation held still across.
 * @throws {ConfigGenerationError} If the generation changed across every run.
 * @throws {RangeError} If `maxTries` is not at least 1.
 */
export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  return todo(
    "readConfigConsistent",
    `read configuration under ConfigGeneration at 0x${
      window.base.toString(16)
    } (${maxTries} tries)`,
  );
}

/**
 * Driver side: the value of the 64-bit field at `offset` of configuration
 * space (a virtio-blk `capacity`), unsigned: `high << 32 | low`, where `low`
 * is the 32-bit word at `offset` and `high` the one at `offset + 4`
 * (configuration space is little-endian).
 *
 * Inside one call of `consistent(window, () => ...)`, every run of the
 * callback makes exactly two accesses: a 32-bit read at
 * `VIRTIO_MMIO_CONFIG + offset` (the low word) and then one at
 * `VIRTIO_MMIO_CONFIG + offset + 4` (the high word) (4.2.2.2/3). Nothing is
 * read outside it, and what `consistent` returns is the value (2.5.1/1): the
 * device may change the field between the two halves.
 *
 * @param window The window's registers.
 * @param offset Offset of the field in configuration space, in bytes (a multiple of 4).
 * @param consistent The consistent-read step (the lab passes its `readConfigConsistent`).
 * @returns The field's value, from 0n to 2n ** 64n - 1n.
 * @throws {ConfigGenerationError} What `consistent` throws, unchanged.
 */
export function readConfig64(
  window: RegisterWindow,
  offset: number,
  consistent: ConsistentConfigReader,
): bigint {
  return todo(
    "readConfig64",
    `read the 64-bit field at configuration offset ${offset} of the device at 0x${
      window.base.toString(16)
    }`,
  );
}
