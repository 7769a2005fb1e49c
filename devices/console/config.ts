/**
 * The console's configuration space (virtio v1.2 §5.3.4), both halves: the
 * device lays out `struct virtio_console_config`
 * ({@linkcode consoleConfigSpace}) and takes emergency writes
 * ({@linkcode emergencyWriteByte}); the driver reads the console size
 * ({@linkcode readConsoleSize}).
 *
 * ```text
 * struct virtio_console_config {
 *     le16 cols;          // VIRTIO_CONSOLE_F_SIZE
 *     le16 rows;          // VIRTIO_CONSOLE_F_SIZE
 *     le32 max_nr_ports;  // VIRTIO_CONSOLE_F_MULTIPORT
 *     le32 emerg_wr;      // VIRTIO_CONSOLE_F_EMERG_WRITE, write-only
 * };
 * ```
 *
 * @module
 */

import type { VirtioDriverContext } from "../../virtio/driver.ts";
import type { ConsoleSize } from "./backends.ts";
import {
  VIRTIO_CONSOLE_CONFIG_COLS,
  VIRTIO_CONSOLE_CONFIG_EMERG_WR,
  VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS,
  VIRTIO_CONSOLE_CONFIG_ROWS,
  VIRTIO_CONSOLE_CONFIG_SIZE,
} from "./constants.ts";

/**
 * Lays out `struct virtio_console_config` (§5.3.4) for a one-port console:
 * `cols` and `rows` from `size` (0 without one, when VIRTIO_CONSOLE_F_SIZE
 * is not offered), `max_nr_ports` 1 (it means something only with
 * VIRTIO_CONSOLE_F_MULTIPORT: a device with more ports stores its own count
 * there over this one), and `emerg_wr` 0 (reads of it return 0; it is there
 * to be written).
 *
 * @param size The console size in character cells, or `null`.
 * @returns The 12 configuration bytes, little-endian.
 * @throws {RangeError} If `cols` or `rows` is not an integer from 0 to 65535.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consoleConfigSpace } from "./config.ts";
 * assert.deepEqual([...consoleConfigSpace({ cols: 80, rows: 25 })], [80, 0, 25, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
 * ```
 */
export function consoleConfigSpace(size: ConsoleSize | null): Uint8Array {
  const bytes = new Uint8Array(VIRTIO_CONSOLE_CONFIG_SIZE);
  const view = new DataView(bytes.buffer);
  if (size) {
    for (const [name, value] of [["cols", size.cols], ["rows", size.rows]] as const) {
      if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
        throw new RangeError(`Console ${name} ${value} is not an integer from 0 to 65535`);
      }
    }
    view.setUint16(VIRTIO_CONSOLE_CONFIG_COLS, size.cols, true);
    view.setUint16(VIRTIO_CONSOLE_CONFIG_ROWS, size.rows, true);
  }
  view.setUint32(VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS, 1, true);
  return bytes;
}

/**
 * What a configuration write means to the device: the byte to send out for
 * a write to `emerg_wr`, or -1 for any other offset (nothing else is
 * writable). Only the low byte of the value counts (5.3.5.1/2); the device
 * takes such writes at any time, even before the driver has set
 * FEATURES_OK (5.3.5.1/1), so nothing here depends on the device's state.
 *
 * @param offset Byte offset in configuration space.
 * @param value The value written.
 * @returns The byte, 0 to 255, or -1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emergencyWriteByte } from "./config.ts";
 * assert.equal(emergencyWriteByte(8, 0x1234_4b), 0x4b); // "K"
 * assert.equal(emergencyWriteByte(0, 80), -1); // cols is read-only
 * ```
 */
export function emergencyWriteByte(offset: number, value: number): number {
  return offset === VIRTIO_CONSOLE_CONFIG_EMERG_WR ? value & 0xff : -1;
}

/** What {@linkcode readConsoleSize} needs of the bound device. */
export type ConsoleConfigReader = Pick<VirtioDriverContext, "readConfig" | "readConfigConsistent">;

/**
 * Reads `cols` and `rows` for the driver (§5.3.4), as two 16-bit accesses
 * under the `ConfigGeneration` loop so they come from one snapshot (§2.5.1).
 * Call it only with VIRTIO_CONSOLE_F_SIZE negotiated: without it the fields
 * do not exist (2.5.1/1).
 *
 * @param device The bound device.
 * @returns The size in character cells.
 */
export function readConsoleSize(device: ConsoleConfigReader): ConsoleSize {
  return device.readConfigConsistent(() => ({
    cols: device.readConfig(VIRTIO_CONSOLE_CONFIG_COLS, 2),
    rows: device.readConfig(VIRTIO_CONSOLE_CONFIG_ROWS, 2),
  }));
}
