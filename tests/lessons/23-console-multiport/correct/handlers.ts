// Correct: a table of handlers keyed by event on each side, bytes assembled
// and taken apart by hand (shifts and masks, no DataView), the answers to
// PORT_READY in the opposite order to QEMU's and the ports announced from the
// last to the first.

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type {
  DeviceConsolePort,
  DeviceControlState,
  DriverConsolePort,
  DriverControlState,
} from "../../../../devices/console/control.ts";

const u16 = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8);
const u32 = (b: Uint8Array, at: number) =>
  (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;

function pack(
  id: number,
  event: number,
  value: number,
  tail: Uint8Array = new Uint8Array(),
): Uint8Array {
  return new Uint8Array([
    id & 0xff,
    (id >>> 8) & 0xff,
    (id >>> 16) & 0xff,
    (id >>> 24) & 0xff,
    event & 0xff,
    event >> 8,
    value & 0xff,
    value >> 8,
    ...tail,
  ]);
}

type DeviceHandler = (
  state: DeviceControlState,
  port: DeviceConsolePort | undefined,
  id: number,
  value: number,
  reporter: ConformanceReporter,
) => Uint8Array[];

const notBeforeReady =
  (handler: DeviceHandler): DeviceHandler => (state, port, id, value, reporter) => {
    if (state.deviceReady) return handler(state, port, id, value, reporter);
    reporter.report("5.3.6.2.2/1", "the driver skipped DEVICE_READY", { id }, "dropped");
    return [];
  };

const DEVICE_HANDLERS: Record<number, DeviceHandler> = {
  0: (state, _port, _id, value) => {
    if (value !== 1) {
      state.deviceReady = false;
      return [];
    }
    state.deviceReady = true;
    return state.ports.filter((p) => !p.added).reverse().map((p) => {
      p.added = true;
      return pack(p.id, 1, 0);
    });
  },
  3: notBeforeReady((_state, port, id, value, reporter) => {
    if (!port?.added || port.ready) {
      reporter.report("5.3.6.2/D2", "PORT_READY without a DEVICE_ADD to answer", { id }, "dropped");
      return [];
    }
    if (value !== 1) return [];
    port.ready = true;
    return [
      ...(port.hostOpen ? [pack(id, 6, 1)] : []),
      ...(port.name ? [pack(id, 7, 0, new TextEncoder().encode(port.name))] : []),
      ...(port.console ? [pack(id, 4, 0)] : []),
    ];
  }),
  6: notBeforeReady((_state, port, id, value, reporter) => {
    if (!port?.ready) {
      reporter.report("5.3.6.2/D2", "PORT_OPEN for a port that is not ready", { id }, "dropped");
      return [];
    }
    if (port.console && port.guestOpen === null && value !== 1) {
      reporter.report("5.3.6.2.2/2", "console port not opened", { id, value }, "noted");
    }
    port.guestOpen = value === 1;
    return [];
  }),
};

export function handleDriverMessage(
  state: DeviceControlState,
  message: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  const handler = message.length >= 8 ? DEVICE_HANDLERS[u16(message, 4)] : undefined;
  if (!handler) {
    reporter.report(
      "5.3.6.2/D1",
      "not a driver control message",
      { length: message.length },
      "dropped",
    );
    return [];
  }
  const id = u32(message, 0);
  return handler(state, state.ports.find((p) => p.id === id), id, u16(message, 6), reporter);
}

export function deviceReadyMessage(state: DriverControlState): Uint8Array {
  state.deviceReadySent = true;
  return pack(0, 0, 1);
}

type DriverHandler = (
  state: DriverControlState,
  port: DriverConsolePort,
  message: Uint8Array,
  reporter: ConformanceReporter,
) => Uint8Array[];

const ABOUT_A_PORT: Record<number, DriverHandler> = {
  4: (_state, port) => {
    port.console = true;
    port.guestOpen = true;
    return [pack(port.id, 6, 1)];
  },
  5: (_state, port, message, reporter) => {
    if (message.length < 12) {
      reporter.report("5.3.6.2/D3", "short RESIZE", { length: message.length }, "dropped");
      return [];
    }
    port.size = { cols: u16(message, 8), rows: u16(message, 10) };
    return [];
  },
  6: (_state, port, message) => {
    port.hostOpen = u16(message, 6) === 1;
    return [];
  },
  7: (_state, port, message) => {
    let end = 8;
    while (end < message.length && message[end] !== 0) end++;
    port.name = new TextDecoder().decode(message.slice(8, end));
    return [];
  },
};

export function handleControlMessage(
  state: DriverControlState,
  message: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  if (!state.deviceReadySent) {
    reporter.report("5.3.6.2/D5", "the device spoke first", {}, "dropped");
    return [];
  }
  const event = message.length >= 8 ? u16(message, 4) : -1;
  if (event !== 1 && event !== 2 && !(event in ABOUT_A_PORT)) {
    reporter.report(
      "5.3.6.2/D3",
      "not a device control message",
      { length: message.length },
      "dropped",
    );
    return [];
  }
  const id = u32(message, 0);
  const port = state.ports.find((p) => p.id === id);
  if (event === 1) {
    if (port !== undefined || id >= state.maxNrPorts) {
      reporter.report("5.3.6.2.1/1", "bad DEVICE_ADD", { id }, "dropped");
      return [];
    }
    state.ports.push({
      id,
      name: null,
      console: false,
      hostOpen: false,
      guestOpen: false,
      size: null,
    });
    return [pack(id, 3, 1)];
  }
  if (event === 2) {
    if (port === undefined) {
      reporter.report("5.3.6.2.1/2", "bad DEVICE_REMOVE", { id }, "dropped");
      return [];
    }
    state.ports.splice(state.ports.indexOf(port), 1);
    return [];
  }
  if (port === undefined) {
    reporter.report("5.3.6.2/D4", "message for a port never added", { id, event }, "dropped");
    return [];
  }
  return ABOUT_A_PORT[event](state, port, message, reporter);
}
