/**
 * The multiport console's control channel (virtio v1.2 §5.3.6.2), both
 * halves. With VIRTIO_CONSOLE_F_MULTIPORT negotiated, queues 2 and 3 carry
 * `struct virtio_console_control` messages: the device announces ports on the
 * control receiveq, the driver answers on the control transmitq.
 *
 * ```text
 * struct virtio_console_control {      // 8 bytes, little-endian
 *     le32 id;     // port number
 *     le16 event;  // VIRTIO_CONSOLE_*
 *     le16 value;  // extra information
 * };                                   // PORT_NAME: UTF-8 name follows
 *                                      // RESIZE: le16 cols, le16 rows follow
 *
 * driver                                device
 *   DEVICE_READY(1)           ──▶
 *                             ◀──  DEVICE_ADD(port)          for each port
 *   PORT_READY(port, 1)       ──▶
 *                             ◀──  CONSOLE_PORT(port)        a console port
 *                             ◀──  PORT_NAME(port) "name"    a named port
 *                             ◀──  PORT_OPEN(port, 1)        host side connected
 *   PORT_OPEN(port, 1)        ──▶  (answering CONSOLE_PORT, or an application opening it)
 * ```
 *
 * Each side's state is a plain record ({@linkcode DeviceControlState},
 * {@linkcode DriverControlState}); each side's step is one function that takes
 * one message, checks it against the other side's rules, updates the state
 * and returns the messages to send back ({@linkcode handleDriverMessage},
 * {@linkcode handleControlMessage}), plus the driver's first message
 * ({@linkcode deviceReadyMessage}).
 *
 * @module
 */

import type { ConformanceReporter } from "../../conformance/log.ts";
import type { ConsoleSize } from "./backends.ts";
import {
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_CONTROL_EVENT_NAMES,
  VIRTIO_CONSOLE_CONTROL_RECEIVEQ,
  VIRTIO_CONSOLE_CONTROL_SIZE,
  VIRTIO_CONSOLE_CONTROL_TRANSMITQ,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_DEVICE_REMOVE,
  VIRTIO_CONSOLE_PORT_NAME,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_RESIZE,
  VIRTIO_CONSOLE_RESIZE_SIZE,
} from "./constants.ts";

// ------------------------------------------------------------- the message

/** A decoded `struct virtio_console_control`. */
export interface ConsoleControl {
  /** Port number (le32). */
  readonly id: number;
  /** The event, a `VIRTIO_CONSOLE_*` value (le16). */
  readonly event: number;
  /** Extra information for the event (le16). */
  readonly value: number;
}

/**
 * Encodes a `struct virtio_console_control`, little-endian, with the bytes
 * that follow it for PORT_NAME (the name) and RESIZE (cols, rows).
 *
 * @param id Port number, 0 to 2^32 - 1.
 * @param event The event, 0 to 65535.
 * @param value Extra information, 0 to 65535.
 * @param tail Bytes after the 8-byte header (default none).
 * @returns `8 + tail.length` bytes.
 * @throws {RangeError} If a field does not fit its width.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeControl } from "./control.ts";
 * assert.deepEqual([...encodeControl(1, 3, 1)], [1, 0, 0, 0, 3, 0, 1, 0]); // PORT_READY(1, 1)
 * ```
 */
export function encodeControl(
  id: number,
  event: number,
  value: number,
  tail: Uint8Array = new Uint8Array(0),
): Uint8Array {
  for (
    const [name, v, max] of [["id", id, 0xffff_ffff], ["event", event, 0xffff], [
      "value",
      value,
      0xffff,
    ]] as const
  ) {
    if (!Number.isInteger(v) || v < 0 || v > max) {
      throw new RangeError(`Control message ${name} ${v} is not an integer from 0 to ${max}`);
    }
  }
  const bytes = new Uint8Array(VIRTIO_CONSOLE_CONTROL_SIZE + tail.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, id, true);
  view.setUint16(4, event, true);
  view.setUint16(6, value, true);
  bytes.set(tail, VIRTIO_CONSOLE_CONTROL_SIZE);
  return bytes;
}

/**
 * Decodes the 8-byte header of a control message.
 *
 * @param bytes The message as received (at least 8 bytes for a header).
 * @returns The header, or `null` if `bytes` is shorter than 8 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeControl, encodeControl } from "./control.ts";
 * assert.deepEqual(decodeControl(encodeControl(2, 6, 1)), { id: 2, event: 6, value: 1 });
 * assert.equal(decodeControl(new Uint8Array(7)), null);
 * ```
 */
export function decodeControl(bytes: Uint8Array): ConsoleControl | null {
  if (bytes.length < VIRTIO_CONSOLE_CONTROL_SIZE) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    id: view.getUint32(0, true),
    event: view.getUint16(4, true),
    value: view.getUint16(6, true),
  };
}

/**
 * A control message in words, e.g. `"PORT_READY(id 1, value 1)"`, for logs
 * and the ring display.
 *
 * @param bytes The message bytes.
 */
export function describeControl(bytes: Uint8Array): string {
  const c = decodeControl(bytes);
  if (!c) return `(${bytes.length}-byte fragment)`;
  const name = (VIRTIO_CONSOLE_CONTROL_EVENT_NAMES[c.event] ?? `event ${c.event}`).replace(
    /^VIRTIO_CONSOLE_/,
    "",
  );
  let text = `${name}(id ${c.id}, value ${c.value})`;
  if (c.event === VIRTIO_CONSOLE_PORT_NAME) {
    text += ` "${new TextDecoder().decode(bytes.subarray(VIRTIO_CONSOLE_CONTROL_SIZE))}"`;
  }
  return text;
}

const EVENT = (event: number) => VIRTIO_CONSOLE_CONTROL_EVENT_NAMES[event] ?? `event ${event}`;

// -------------------------------------------------------------- device side

/** One port as the device keeps it. */
export interface DeviceConsolePort {
  /** Port number: 0 to `max_nr_ports - 1`. */
  readonly id: number;
  /** Sent in PORT_NAME after PORT_READY, as QEMU's `name=`; `""` sends none. */
  readonly name: string;
  /** Nominated with CONSOLE_PORT after PORT_READY (QEMU's `virtconsole`). */
  readonly console: boolean;
  /** The host side is connected: PORT_OPEN(1) follows PORT_READY. */
  hostOpen: boolean;
  /** DEVICE_ADD was sent for it. */
  added: boolean;
  /** The driver answered PORT_READY with value 1. */
  ready: boolean;
  /** The driver's last PORT_OPEN value (`true` open), or `null` before its first. */
  guestOpen: boolean | null;
}

/** The device's side of the control channel. */
export interface DeviceControlState {
  /** `max_nr_ports` in configuration space. */
  readonly maxNrPorts: number;
  /** The driver sent DEVICE_READY with value 1. */
  deviceReady: boolean;
  /** The ports the device has, in port-number order. */
  readonly ports: DeviceConsolePort[];
}

/**
 * The device's step for one message from the control transmitq (§5.3.6.2):
 * checks it, updates `state`, and returns the messages the device sends in
 * answer on the control receiveq, in order, as QEMU's
 * `handle_control_message` does:
 *
 * - DEVICE_READY(1): DEVICE_ADD for every port not added yet (value 0: the
 *   driver failed, nothing is sent);
 * - PORT_READY(port, 1): CONSOLE_PORT if the port is a console, PORT_NAME
 *   with its UTF-8 name if it has one, PORT_OPEN(1) if its host side is
 *   connected (value 0: the port stays unready);
 * - PORT_OPEN(port, v): records whether the guest has the port open.
 *
 * What it refuses, reported and answered with nothing: a message shorter
 * than 8 bytes or with an event the driver does not send (5.3.6.2/D1);
 * PORT_READY or PORT_OPEN before DEVICE_READY (5.3.6.2.2/1); PORT_READY for
 * a port not added or already ready, PORT_OPEN for a port not ready
 * (5.3.6.2/D2); a console port's first PORT_OPEN with a value other than 1
 * (5.3.6.2.2/2, still recorded).
 *
 * @param state The device's control state (updated).
 * @param message The bytes the driver placed (as many as its buffer held).
 * @param reporter Where driver violations go.
 * @returns Encoded control messages to send, possibly none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConformanceLog, ConformanceReporter } from "../../conformance/log.ts";
 * import { encodeControl, handleDriverMessage, describeControl } from "./control.ts";
 * const state = {
 *   maxNrPorts: 2,
 *   deviceReady: false,
 *   ports: [{ id: 1, name: "org.lab.0", console: false, hostOpen: true, added: false, ready: false, guestOpen: null }],
 * };
 * const log = new ConformanceReporter(new ConformanceLog(), "example");
 * assert.deepEqual(handleDriverMessage(state, encodeControl(0, 0, 1), log).map(describeControl), ["DEVICE_ADD(id 1, value 0)"]);
 * assert.deepEqual(handleDriverMessage(state, encodeControl(1, 3, 1), log).map(describeControl), [
 *   'PORT_NAME(id 1, value 0) "org.lab.0"',
 *   "PORT_OPEN(id 1, value 1)",
 * ]);
 * ```
 */
export function handleDriverMessage(
  state: DeviceControlState,
  message: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  const c = decodeControl(message);
  const queue = VIRTIO_CONSOLE_CONTROL_TRANSMITQ;
  if (!c) {
    reporter.report(
      "5.3.6.2/D1",
      `Control message of ${message.length} byte(s) is shorter than struct virtio_console_control (8 bytes)`,
      { queue, length: message.length },
      "message ignored",
    );
    return [];
  }
  const values = { queue, id: c.id, event: c.event, value: c.value };
  if (
    c.event !== VIRTIO_CONSOLE_DEVICE_READY && c.event !== VIRTIO_CONSOLE_PORT_READY &&
    c.event !== VIRTIO_CONSOLE_PORT_OPEN
  ) {
    reporter.report(
      "5.3.6.2/D1",
      `Control message with ${EVENT(c.event)} is not one a driver sends`,
      values,
      "message ignored",
    );
    return [];
  }
  if (c.event === VIRTIO_CONSOLE_DEVICE_READY) {
    if (c.value !== 1) {
      state.deviceReady = false;
      return [];
    }
    state.deviceReady = true;
    const out: Uint8Array[] = [];
    for (const port of state.ports) {
      if (port.added) continue;
      port.added = true;
      out.push(encodeControl(port.id, VIRTIO_CONSOLE_DEVICE_ADD, 0));
    }
    return out;
  }
  if (!state.deviceReady) {
    reporter.report(
      "5.3.6.2.2/1",
      `${EVENT(c.event)} for port ${c.id} arrived before VIRTIO_CONSOLE_DEVICE_READY`,
      values,
      "message ignored",
    );
    return [];
  }
  const port = state.ports.find((p) => p.id === c.id);
  if (c.event === VIRTIO_CONSOLE_PORT_READY) {
    if (!port || !port.added || port.ready) {
      reporter.report(
        "5.3.6.2/D2",
        `VIRTIO_CONSOLE_PORT_READY for port ${c.id}, which ${
          !port || !port.added ? "the device never added" : "is ready already"
        }`,
        values,
        "message ignored",
      );
      return [];
    }
    if (c.value !== 1) return [];
    port.ready = true;
    const out: Uint8Array[] = [];
    if (port.console) out.push(encodeControl(port.id, VIRTIO_CONSOLE_CONSOLE_PORT, 1));
    if (port.name !== "") {
      out.push(
        encodeControl(port.id, VIRTIO_CONSOLE_PORT_NAME, 0, new TextEncoder().encode(port.name)),
      );
    }
    if (port.hostOpen) out.push(encodeControl(port.id, VIRTIO_CONSOLE_PORT_OPEN, 1));
    return out;
  }
  // VIRTIO_CONSOLE_PORT_OPEN
  if (!port || !port.ready) {
    reporter.report(
      "5.3.6.2/D2",
      `VIRTIO_CONSOLE_PORT_OPEN for port ${c.id}, which ${
        !port || !port.added ? "the device never added" : "the driver has not made ready"
      }`,
      values,
      "message ignored",
    );
    return [];
  }
  if (port.console && port.guestOpen === null && c.value !== 1) {
    reporter.report(
      "5.3.6.2.2/2",
      `Console port ${c.id} was answered with VIRTIO_CONSOLE_PORT_OPEN value ${c.value}, not 1`,
      values,
      "port recorded as closed",
    );
  }
  port.guestOpen = c.value === 1;
  return [];
}

// -------------------------------------------------------------- driver side

/** One port as the driver keeps it. */
export interface DriverConsolePort {
  /** Port number. */
  readonly id: number;
  /** The name from PORT_NAME, or `null` before one arrives. */
  name: string | null;
  /** The device nominated it with CONSOLE_PORT. */
  console: boolean;
  /** The device's last PORT_OPEN value: the host side is connected. */
  hostOpen: boolean;
  /** The driver has the port open (it sent PORT_OPEN(1)). */
  guestOpen: boolean;
  /** The size from the last RESIZE, or `null`. */
  size: ConsoleSize | null;
}

/** The driver's side of the control channel. */
export interface DriverControlState {
  /** `max_nr_ports` read from configuration space. */
  readonly maxNrPorts: number;
  /** DEVICE_READY was sent ({@linkcode deviceReadyMessage}). */
  deviceReadySent: boolean;
  /** The ports the device added and has not removed, in the order added. */
  readonly ports: DriverConsolePort[];
}

/**
 * The driver's first control message: VIRTIO_CONSOLE_DEVICE_READY with value
 * 1 (its `id` is unused: 0), which a driver that negotiated
 * VIRTIO_CONSOLE_F_MULTIPORT must send (5.3.6.2.2/1) and after which the
 * device announces its ports. Records in `state` that it was sent.
 *
 * @param state The driver's control state (updated).
 * @returns The 8 bytes to place on the control transmitq.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deviceReadyMessage } from "./control.ts";
 * const state = { maxNrPorts: 2, deviceReadySent: false, ports: [] };
 * assert.deepEqual([...deviceReadyMessage(state)], [0, 0, 0, 0, 0, 0, 1, 0]);
 * assert.equal(state.deviceReadySent, true);
 * ```
 */
export function deviceReadyMessage(state: DriverControlState): Uint8Array {
  state.deviceReadySent = true;
  return encodeControl(0, VIRTIO_CONSOLE_DEVICE_READY, 1);
}

/**
 * The driver's step for one message from the control receiveq (§5.3.6.2),
 * in the manner of Linux's `handle_control_message`: checks it, updates
 * `state`, and returns the messages to send back on the control transmitq:
 *
 * - DEVICE_ADD(port): the port is added; answered with PORT_READY(port, 1)
 *   (the caller posts the port's receive buffers before sending it);
 * - DEVICE_REMOVE(port): the port is removed;
 * - CONSOLE_PORT(port): the port becomes a console and is opened; answered
 *   with PORT_OPEN(port, 1) (5.3.6.2.2/2);
 * - RESIZE(port): the port's size is the `struct virtio_console_resize` after the header;
 * - PORT_OPEN(port, v): the host side connected (1) or went away (0);
 * - PORT_NAME(port): the port's name is the UTF-8 text after the header, up
 *   to a NUL if there is one (the spec sends none; QEMU sends one after the
 *   name), invalid UTF-8 decoded as U+FFFD.
 *
 * What it refuses, reported and answered with nothing: a message before
 * DEVICE_READY was sent (5.3.6.2/D5); a message shorter than 8 bytes, an
 * event the device does not send, or a RESIZE without its 4 bytes
 * (5.3.6.2/D3); DEVICE_ADD of a port that exists or is not below
 * `max_nr_ports` (5.3.6.2.1/1); DEVICE_REMOVE of a port that does not exist
 * (5.3.6.2.1/2); any other event for a port that does not exist (5.3.6.2/D4).
 *
 * @param state The driver's control state (updated).
 * @param message The bytes of one used control receive buffer (its used `len`, bounded by the buffer).
 * @param reporter Where device violations go.
 * @returns Encoded control messages to send, possibly none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConformanceLog, ConformanceReporter } from "../../conformance/log.ts";
 * import { describeControl, type DriverControlState, encodeControl, handleControlMessage } from "./control.ts";
 * const state: DriverControlState = { maxNrPorts: 2, deviceReadySent: true, ports: [] };
 * const log = new ConformanceReporter(new ConformanceLog(), "example");
 * assert.deepEqual(handleControlMessage(state, encodeControl(1, 1, 0), log).map(describeControl), [
 *   "PORT_READY(id 1, value 1)",
 * ]);
 * handleControlMessage(state, encodeControl(1, 7, 0, new TextEncoder().encode("org.lab.0")), log);
 * assert.equal(state.ports[0].name, "org.lab.0");
 * ```
 */
export function handleControlMessage(
  state: DriverControlState,
  message: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  const queue = VIRTIO_CONSOLE_CONTROL_RECEIVEQ;
  const c = decodeControl(message);
  if (!state.deviceReadySent) {
    reporter.report(
      "5.3.6.2/D5",
      `Control message ${describeControl(message)} arrived before the driver sent ` +
        "VIRTIO_CONSOLE_DEVICE_READY",
      { queue, length: message.length, ...c },
      "message ignored",
    );
    return [];
  }
  if (!c) {
    reporter.report(
      "5.3.6.2/D3",
      `Control message of ${message.length} byte(s) is shorter than struct virtio_console_control (8 bytes)`,
      { queue, length: message.length },
      "message ignored",
    );
    return [];
  }
  const values = { queue, id: c.id, event: c.event, value: c.value, length: message.length };
  const at = state.ports.findIndex((p) => p.id === c.id);
  const port = at >= 0 ? state.ports[at] : null;
  switch (c.event) {
    case VIRTIO_CONSOLE_DEVICE_ADD:
      if (port || c.id >= state.maxNrPorts) {
        reporter.report(
          "5.3.6.2.1/1",
          `VIRTIO_CONSOLE_DEVICE_ADD for port ${c.id}, which ${
            port ? "exists already" : `is not below max_nr_ports ${state.maxNrPorts}`
          }`,
          { ...values, maxNrPorts: state.maxNrPorts },
          "message ignored",
        );
        return [];
      }
      state.ports.push({
        id: c.id,
        name: null,
        console: false,
        hostOpen: false,
        guestOpen: false,
        size: null,
      });
      return [encodeControl(c.id, VIRTIO_CONSOLE_PORT_READY, 1)];
    case VIRTIO_CONSOLE_DEVICE_REMOVE:
      if (!port) {
        reporter.report(
          "5.3.6.2.1/2",
          `VIRTIO_CONSOLE_DEVICE_REMOVE for port ${c.id}, which the device never added`,
          values,
          "message ignored",
        );
        return [];
      }
      state.ports.splice(at, 1);
      return [];
    case VIRTIO_CONSOLE_CONSOLE_PORT:
    case VIRTIO_CONSOLE_RESIZE:
    case VIRTIO_CONSOLE_PORT_OPEN:
    case VIRTIO_CONSOLE_PORT_NAME:
      break;
    default:
      reporter.report(
        "5.3.6.2/D3",
        `Control message with ${EVENT(c.event)} is not one a device sends`,
        values,
        "message ignored",
      );
      return [];
  }
  if (!port) {
    reporter.report(
      "5.3.6.2/D4",
      `${EVENT(c.event)} for port ${c.id}, which the device has not added`,
      values,
      "message ignored",
    );
    return [];
  }
  switch (c.event) {
    case VIRTIO_CONSOLE_CONSOLE_PORT:
      port.console = true;
      port.guestOpen = true;
      return [encodeControl(c.id, VIRTIO_CONSOLE_PORT_OPEN, 1)];
    case VIRTIO_CONSOLE_RESIZE: {
      if (message.length < VIRTIO_CONSOLE_CONTROL_SIZE + VIRTIO_CONSOLE_RESIZE_SIZE) {
        reporter.report(
          "5.3.6.2/D3",
          `VIRTIO_CONSOLE_RESIZE for port ${c.id} is ${message.length} bytes, without the ` +
            "4-byte struct virtio_console_resize after it",
          values,
          "message ignored",
        );
        return [];
      }
      const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
      port.size = {
        cols: view.getUint16(VIRTIO_CONSOLE_CONTROL_SIZE, true),
        rows: view.getUint16(VIRTIO_CONSOLE_CONTROL_SIZE + 2, true),
      };
      return [];
    }
    case VIRTIO_CONSOLE_PORT_OPEN:
      port.hostOpen = c.value === 1;
      return [];
    default: { // VIRTIO_CONSOLE_PORT_NAME
      // The spec sends the name without a NUL; QEMU sends one after it.
      // Like Linux's strncpy, the name stops at the first NUL.
      const tail = message.subarray(VIRTIO_CONSOLE_CONTROL_SIZE);
      const nul = tail.indexOf(0);
      port.name = new TextDecoder().decode(nul < 0 ? tail : tail.subarray(0, nul));
      return [];
    }
  }
}
