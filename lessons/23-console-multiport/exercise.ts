// deno-lint-ignore-file no-unused-vars
/**
 * "Console ports": your exercise.
 *
 * Both halves of a multiport console's control channel (§5.3.6.2), each a
 * step over a plain port table: the device answers the driver's messages
 * ({@linkcode handleDriverMessage}); the driver sends its first message
 * ({@linkcode deviceReadyMessage}) and answers the device's
 * ({@linkcode handleControlMessage}). The lab's console device and driver
 * call them for every message on the control queues; they move the bytes,
 * post the buffers of a port you add, and let input flow on a port once it
 * is ready and open (`deno task lab boot --mine --port org.lab.echo`).
 *
 * Every message is a `struct virtio_console_control`, 8 bytes,
 * little-endian: `le32 id` (the port), `le16 event`, `le16 value`. PORT_NAME
 * carries the name after it, RESIZE `le16 cols, le16 rows`. Each doc comment
 * below is a contract; the how is in the lesson and in §5.3.6.2. Pieces of
 * the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_CONSOLE_DEVICE_READY,  // 0  driver → device
 *   VIRTIO_CONSOLE_DEVICE_ADD,    // 1  device → driver
 *   VIRTIO_CONSOLE_DEVICE_REMOVE, // 2  device → driver
 *   VIRTIO_CONSOLE_PORT_READY,    // 3  driver → device
 *   VIRTIO_CONSOLE_CONSOLE_PORT,  // 4  device → driver
 *   VIRTIO_CONSOLE_RESIZE,        // 5  device → driver
 *   VIRTIO_CONSOLE_PORT_OPEN,     // 6  both ways
 *   VIRTIO_CONSOLE_PORT_NAME,     // 7  device → driver
 * } from "../../devices/console/constants.ts";
 * ```
 *
 * Check your work with `deno task lab check console-multiport`; stuck?
 * `deno task lab hint console-multiport`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { ConformanceReporter } from "../../conformance/log.ts";
import type { DeviceControlState, DriverControlState } from "../../devices/console/control.ts";

// ------------------------------------------------------------ device side

/**
 * Device side: one message the driver placed on the control transmitq.
 * Update `state` and return the messages the device sends back on the
 * control receiveq, each a `Uint8Array` (8 bytes, or 8 plus the name).
 *
 * `state` is `{ maxNrPorts, deviceReady, ports }`; each port is
 * `{ id, name, console, hostOpen, added, ready, guestOpen }` (`name` `""`
 * for none, `guestOpen` `null` until the driver's first PORT_OPEN), and
 * `ports[i].id === i`.
 *
 * | the message (whole, 8 bytes or more)         | you update                  | you return                                    |
 * | -------------------------------------------- | --------------------------- | --------------------------------------------- |
 * | DEVICE_READY, value 1 (its `id` is unused)   | `deviceReady`, and `added` of each port you announce | DEVICE_ADD for every port not `added` yet |
 * | DEVICE_READY, value 0 (the driver failed)    | `deviceReady` false         | nothing                                        |
 * | PORT_READY(port, 1), the port `added`, not `ready` | its `ready`           | CONSOLE_PORT if `console`; PORT_NAME with `name` if not `""`; PORT_OPEN(port, 1) if `hostOpen` |
 * | PORT_READY(port, 0), the port `added`, not `ready` | nothing               | nothing (the port stays unready)                |
 * | PORT_OPEN(port, v), the port `ready`         | its `guestOpen`: `v === 1`  | nothing                                        |
 *
 * PORT_NAME's name is `name` in UTF-8 right after the 8 bytes, with no NUL.
 * The `value` of DEVICE_ADD, CONSOLE_PORT and PORT_NAME is unused: any is
 * fine. The order of the messages you return is yours.
 *
 * Refuse, by reporting the id with `reporter.report(id, message, values,
 * action)` (the wording of `message`, the `values` and `action` are yours),
 * changing nothing and returning `[]`:
 *
 * | the message                                                  | report        |
 * | ------------------------------------------------------------ | ------------- |
 * | shorter than 8 bytes, or an event other than the three above | `5.3.6.2/D1`  |
 * | PORT_READY or PORT_OPEN while `deviceReady` is false          | `5.3.6.2.2/1` |
 * | PORT_READY for a port not in `ports`, not `added`, or `ready` already | `5.3.6.2/D2` |
 * | PORT_OPEN for a port not in `ports` or not `ready`           | `5.3.6.2/D2`  |
 *
 * One more report, without refusing: a `console` port's first PORT_OPEN
 * (its `guestOpen` still `null`) with a value other than 1 breaks
 * `5.3.6.2.2/2`; report it and record the value as usual.
 *
 * @param state The device's port table; update it.
 * @param message The bytes the driver placed (never modified by the caller afterwards).
 * @param reporter Where the driver's violations go.
 * @returns The messages to send, possibly none.
 */
export function handleDriverMessage(
  state: DeviceControlState,
  message: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  return todo(
    "handleDriverMessage",
    `answer the driver's ${message.length}-byte control message (${state.ports.length} port(s))`,
  );
}

// ------------------------------------------------------------ driver side

/**
 * Driver side: the first message a driver that negotiated
 * VIRTIO_CONSOLE_F_MULTIPORT sends, DEVICE_READY with value 1 (its `id` is
 * unused: any is fine). Set `state.deviceReadySent`.
 *
 * @param state The driver's port table; update it.
 * @returns The 8 bytes to place on the control transmitq.
 */
export function deviceReadyMessage(state: DriverControlState): Uint8Array {
  return todo("deviceReadyMessage", "build DEVICE_READY(1) and record that it was sent");
}

/**
 * Driver side: one message the device placed on the control receiveq (as
 * many bytes as its used `len` said, never more than the buffer). Update
 * `state` and return the messages the driver sends back.
 *
 * `state` is `{ maxNrPorts, deviceReadySent, ports }`; each port is
 * `{ id, name, console, hostOpen, guestOpen, size }`, in any order.
 *
 * | the message (whole)            | you update                                                  | you return            |
 * | ------------------------------ | ----------------------------------------------------------- | --------------------- |
 * | DEVICE_ADD(port)               | a new port `{ id: port, name: null, console: false, hostOpen: false, guestOpen: false, size: null }` | PORT_READY(port, 1) |
 * | DEVICE_REMOVE(port)            | the port is gone from `ports`                                | nothing               |
 * | CONSOLE_PORT(port) (value unused) | its `console` and `guestOpen` true                       | PORT_OPEN(port, 1)    |
 * | PORT_NAME(port)                | its `name`: the UTF-8 text after the 8 bytes, up to a NUL if there is one | nothing |
 * | PORT_OPEN(port, v)             | its `hostOpen`: `v === 1`                                    | nothing               |
 * | RESIZE(port) + cols, rows      | its `size`: `{ cols, rows }` (le16 each)                     | nothing               |
 *
 * Decode the name as `TextDecoder` does by default (invalid bytes become
 * U+FFFD); a second PORT_NAME for a port replaces its name. Refuse, by reporting the id (wording, values and action yours),
 * changing nothing and returning `[]`:
 *
 * | the message                                                       | report        |
 * | ----------------------------------------------------------------- | ------------- |
 * | any, while `deviceReadySent` is false                              | `5.3.6.2/D5`  |
 * | shorter than 8 bytes, an event other than the six above, a RESIZE shorter than 12 bytes | `5.3.6.2/D3` |
 * | DEVICE_ADD of a port in `ports`, or not below `maxNrPorts`         | `5.3.6.2.1/1` |
 * | DEVICE_REMOVE of a port not in `ports`                             | `5.3.6.2.1/2` |
 * | CONSOLE_PORT, PORT_NAME, PORT_OPEN or RESIZE for a port not in `ports` | `5.3.6.2/D4` |
 *
 * @param state The driver's port table; update it.
 * @param message The bytes of one used control receive buffer.
 * @param reporter Where the device's violations go.
 * @returns The messages to send, possibly none.
 */
export function handleControlMessage(
  state: DriverControlState,
  message: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  return todo(
    "handleControlMessage",
    `answer the device's ${message.length}-byte control message (${state.ports.length} port(s) known)`,
  );
}
