/**
 * The replaceable parts of the virtio console device and driver (registry
 * layer `console`): each is a plain function over plain records, and
 * `VirtioConsoleDevice` and `VirtioConsoleDriver` call every step through a
 * table of them, so a learner's function can stand in for any one of them
 * while the rest stay the reference.
 *
 * Device side (`console.device.*`): fill a receive chain, stream a transmit
 * chain, take an emergency write, lay out the configuration space, answer
 * the driver's multiport control messages. Driver side (`console.driver.*`):
 * post receive buffers, take the bytes out of a returned one, cut output
 * into pieces and post each as a transmit chain, read the console size,
 * start the multiport control conversation and answer the device's control
 * messages.
 *
 * @module
 */

import { consoleConfigSpace, emergencyWriteByte, readConsoleSize } from "./config.ts";
import { deviceReadyMessage, handleControlMessage, handleDriverMessage } from "./control.ts";
import { fillReceiveChain, postReceiveBuffers, receivedBytes } from "./receive.ts";
import { postTransmitBuffer, takeTransmitChain, transmitChunks } from "./transmit.ts";

/** The device-side parts of virtio-console. */
export interface ConsoleDeviceParts {
  /** Writes input into a receive chain of any shape; returns the used `len`. */
  readonly fillReceiveChain: typeof fillReceiveChain;
  /** Streams the next bytes out of a transmit chain, bounded by the chunk given. */
  readonly takeTransmitChain: typeof takeTransmitChain;
  /** The byte a configuration write sends out (`emerg_wr`), or -1. */
  readonly emergencyWriteByte: typeof emergencyWriteByte;
  /** Lays out `struct virtio_console_config` (§5.3.4). */
  readonly consoleConfigSpace: typeof consoleConfigSpace;
  /** Takes one driver control message, updates the port table, returns the answers (§5.3.6.2). */
  readonly handleDriverMessage: typeof handleDriverMessage;
}

/** The reference device-side parts. */
export const REFERENCE_CONSOLE_DEVICE_PARTS: ConsoleDeviceParts = Object.freeze({
  fillReceiveChain,
  takeTransmitChain,
  emergencyWriteByte,
  consoleConfigSpace,
  handleDriverMessage,
});

/** The driver-side parts of virtio-console. */
export interface ConsoleDriverParts {
  /** Posts device-writable receive buffers; says whether to notify (only after DRIVER_OK). */
  readonly postReceiveBuffers: typeof postReceiveBuffers;
  /** Copies the bytes of a returned receive buffer, never trusting `len` beyond it. */
  readonly receivedBytes: typeof receivedBytes;
  /** Cuts output into transmit chain pieces. */
  readonly transmitChunks: typeof transmitChunks;
  /** Places one piece as a chain of one device-readable buffer (5.3.6.1/2). */
  readonly postTransmitBuffer: typeof postTransmitBuffer;
  /** Reads `cols` and `rows` under the generation loop. */
  readonly readConsoleSize: typeof readConsoleSize;
  /** The driver's VIRTIO_CONSOLE_DEVICE_READY message (5.3.6.2.2/1). */
  readonly deviceReadyMessage: typeof deviceReadyMessage;
  /** Takes one device control message, updates the port table, returns the answers (§5.3.6.2). */
  readonly handleControlMessage: typeof handleControlMessage;
}

/** The reference driver-side parts. */
export const REFERENCE_CONSOLE_DRIVER_PARTS: ConsoleDriverParts = Object.freeze({
  postReceiveBuffers,
  receivedBytes,
  transmitChunks,
  postTransmitBuffer,
  readConsoleSize,
  deviceReadyMessage,
  handleControlMessage,
});
