/**
 * Constants and layouts of the virtio console device (virtio v1.2 §5.3),
 * named as in the spec and in the Linux UAPI header
 * `linux/virtio_console.h`, and checked against both.
 *
 * With VIRTIO_CONSOLE_F_MULTIPORT the device has more ports and the control
 * queues; the control messages (§5.3.6.2) are built and read in
 * `control.ts`.
 *
 * @module
 */

import type { ConfigField } from "../../virtio/device.ts";

// ------------------------------------------------------------ feature bits

/** `cols` and `rows` in configuration space are valid (§5.3.3). */
export const VIRTIO_CONSOLE_F_SIZE = 0;
/** Multiple ports: `max_nr_ports` is valid and the control queues exist (§5.3.3). */
export const VIRTIO_CONSOLE_F_MULTIPORT = 1;
/** Emergency write through `emerg_wr` is supported (§5.3.3). */
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;

/** Names of the console's device-specific feature bits, by bit number. */
export const VIRTIO_CONSOLE_FEATURE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [VIRTIO_CONSOLE_F_SIZE]: "VIRTIO_CONSOLE_F_SIZE",
  [VIRTIO_CONSOLE_F_MULTIPORT]: "VIRTIO_CONSOLE_F_MULTIPORT",
  [VIRTIO_CONSOLE_F_EMERG_WRITE]: "VIRTIO_CONSOLE_F_EMERG_WRITE",
});

// ------------------------------------------------------------------ queues

/** Queue index of port 0's receiveq: device to driver (§5.3.2). */
export const VIRTIO_CONSOLE_RECEIVEQ = 0;
/** Queue index of port 0's transmitq: driver to device (§5.3.2). */
export const VIRTIO_CONSOLE_TRANSMITQ = 1;
/** Queue index of the control receiveq (multiport only, §5.3.2). */
export const VIRTIO_CONSOLE_CONTROL_RECEIVEQ = 2;
/** Queue index of the control transmitq (multiport only, §5.3.2). */
export const VIRTIO_CONSOLE_CONTROL_TRANSMITQ = 3;

/**
 * Queue index of a port's receiveq (§5.3.2): 0 for port 0, `2 * port + 2`
 * for the others.
 *
 * @param port Port number, a non-negative integer.
 */
export function portReceiveq(port: number): number {
  return port === 0 ? VIRTIO_CONSOLE_RECEIVEQ : 2 * port + 2;
}

/**
 * Queue index of a port's transmitq (§5.3.2): 1 for port 0, `2 * port + 3`
 * for the others.
 *
 * @param port Port number, a non-negative integer.
 */
export function portTransmitq(port: number): number {
  return port === 0 ? VIRTIO_CONSOLE_TRANSMITQ : 2 * port + 3;
}

// --------------------------------------------------- configuration layout

/** Offset of `cols` (le16) in struct virtio_console_config (§5.3.4). */
export const VIRTIO_CONSOLE_CONFIG_COLS = 0;
/** Offset of `rows` (le16). */
export const VIRTIO_CONSOLE_CONFIG_ROWS = 2;
/** Offset of `max_nr_ports` (le32). */
export const VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS = 4;
/** Offset of `emerg_wr` (le32). */
export const VIRTIO_CONSOLE_CONFIG_EMERG_WR = 8;
/** Size of struct virtio_console_config, in bytes. */
export const VIRTIO_CONSOLE_CONFIG_SIZE = 12;

/**
 * struct virtio_console_config (§5.3.4) as the transport sees it: `cols` and
 * `rows` exist with VIRTIO_CONSOLE_F_SIZE, `max_nr_ports` with
 * VIRTIO_CONSOLE_F_MULTIPORT, and `emerg_wr` with
 * VIRTIO_CONSOLE_F_EMERG_WRITE; `emerg_wr` is writable at any time
 * (§5.3.5.1).
 */
export const VIRTIO_CONSOLE_CONFIG_LAYOUT: readonly ConfigField[] = Object.freeze(
  [
    { name: "cols", offset: VIRTIO_CONSOLE_CONFIG_COLS, size: 2, feature: VIRTIO_CONSOLE_F_SIZE },
    { name: "rows", offset: VIRTIO_CONSOLE_CONFIG_ROWS, size: 2, feature: VIRTIO_CONSOLE_F_SIZE },
    {
      name: "max_nr_ports",
      offset: VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS,
      size: 4,
      feature: VIRTIO_CONSOLE_F_MULTIPORT,
    },
    {
      name: "emerg_wr",
      offset: VIRTIO_CONSOLE_CONFIG_EMERG_WR,
      size: 4,
      feature: VIRTIO_CONSOLE_F_EMERG_WRITE,
      writable: true,
      anytime: true,
    },
  ] satisfies ConfigField[],
);

// ------------------------------------------------- multiport control events

/** Size of struct virtio_console_control (id le32, event le16, value le16), in bytes. */
export const VIRTIO_CONSOLE_CONTROL_SIZE = 8;
/** Size of struct virtio_console_resize (cols le16, rows le16), in bytes. */
export const VIRTIO_CONSOLE_RESIZE_SIZE = 4;
/** Port id meaning "no port" (`~0u32`, Linux only). */
export const VIRTIO_CONSOLE_BAD_ID = 0xffff_ffff;

/** Driver to device: ready for control messages; value 1 success, 0 failure (§5.3.6.2). */
export const VIRTIO_CONSOLE_DEVICE_READY = 0;
/** Device to driver: a new port (the spec's VIRTIO_CONSOLE_DEVICE_ADD). */
export const VIRTIO_CONSOLE_DEVICE_ADD = 1;
/** Linux's name for {@linkcode VIRTIO_CONSOLE_DEVICE_ADD}. */
export const VIRTIO_CONSOLE_PORT_ADD: number = VIRTIO_CONSOLE_DEVICE_ADD;
/** Device to driver: a port goes away (the spec's VIRTIO_CONSOLE_DEVICE_REMOVE). */
export const VIRTIO_CONSOLE_DEVICE_REMOVE = 2;
/** Linux's name for {@linkcode VIRTIO_CONSOLE_DEVICE_REMOVE}. */
export const VIRTIO_CONSOLE_PORT_REMOVE: number = VIRTIO_CONSOLE_DEVICE_REMOVE;
/** Driver to device: the port announced by DEVICE_ADD is ready; value 1 success. */
export const VIRTIO_CONSOLE_PORT_READY = 3;
/** Device to driver: this port is a console. */
export const VIRTIO_CONSOLE_CONSOLE_PORT = 4;
/** Device to driver: the console size changed; a struct virtio_console_resize follows. */
export const VIRTIO_CONSOLE_RESIZE = 5;
/** Both ways: the port was opened (value 1) or closed (value 0). */
export const VIRTIO_CONSOLE_PORT_OPEN = 6;
/** Device to driver: the port's name follows, UTF-8 without a NUL. */
export const VIRTIO_CONSOLE_PORT_NAME = 7;

/** Names of the control events, by value. */
export const VIRTIO_CONSOLE_CONTROL_EVENT_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [VIRTIO_CONSOLE_DEVICE_READY]: "VIRTIO_CONSOLE_DEVICE_READY",
  [VIRTIO_CONSOLE_DEVICE_ADD]: "VIRTIO_CONSOLE_DEVICE_ADD",
  [VIRTIO_CONSOLE_DEVICE_REMOVE]: "VIRTIO_CONSOLE_DEVICE_REMOVE",
  [VIRTIO_CONSOLE_PORT_READY]: "VIRTIO_CONSOLE_PORT_READY",
  [VIRTIO_CONSOLE_CONSOLE_PORT]: "VIRTIO_CONSOLE_CONSOLE_PORT",
  [VIRTIO_CONSOLE_RESIZE]: "VIRTIO_CONSOLE_RESIZE",
  [VIRTIO_CONSOLE_PORT_OPEN]: "VIRTIO_CONSOLE_PORT_OPEN",
  [VIRTIO_CONSOLE_PORT_NAME]: "VIRTIO_CONSOLE_PORT_NAME",
});
