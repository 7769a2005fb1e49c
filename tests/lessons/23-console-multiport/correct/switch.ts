// Correct: one switch per side over the event, a DataView for every field,
// the answers in the order QEMU sends them, the spec's words in the reports.

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type {
  DeviceControlState,
  DriverControlState,
} from "../../../../devices/console/control.ts";
import {
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_DEVICE_REMOVE,
  VIRTIO_CONSOLE_PORT_NAME,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_RESIZE,
} from "../../../../devices/console/constants.ts";

function message(id: number, event: number, value: number, tail = new Uint8Array(0)) {
  const out = new Uint8Array(8 + tail.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, id, true);
  view.setUint16(4, event, true);
  view.setUint16(6, value, true);
  out.set(tail, 8);
  return out;
}

function header(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    id: view.getUint32(0, true),
    event: view.getUint16(4, true),
    value: view.getUint16(6, true),
  };
}

export function handleDriverMessage(
  state: DeviceControlState,
  bytes: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  if (bytes.length < 8) {
    reporter.report(
      "5.3.6.2/D1",
      "Control message shorter than 8 bytes",
      { length: bytes.length },
      "ignored",
    );
    return [];
  }
  const { id, event, value } = header(bytes);
  switch (event) {
    case VIRTIO_CONSOLE_DEVICE_READY: {
      state.deviceReady = value === 1;
      if (!state.deviceReady) return [];
      const out: Uint8Array[] = [];
      for (const port of state.ports) {
        if (port.added) continue;
        port.added = true;
        out.push(message(port.id, VIRTIO_CONSOLE_DEVICE_ADD, 0));
      }
      return out;
    }
    case VIRTIO_CONSOLE_PORT_READY:
    case VIRTIO_CONSOLE_PORT_OPEN:
      break;
    default:
      reporter.report(
        "5.3.6.2/D1",
        `Event ${event} is not a driver-to-device event`,
        { event },
        "ignored",
      );
      return [];
  }
  if (!state.deviceReady) {
    reporter.report(
      "5.3.6.2.2/1",
      "Port message before VIRTIO_CONSOLE_DEVICE_READY",
      { id, event },
      "ignored",
    );
    return [];
  }
  const port = state.ports[id];
  if (event === VIRTIO_CONSOLE_PORT_READY) {
    if (port === undefined || !port.added || port.ready) {
      reporter.report("5.3.6.2/D2", `PORT_READY for port ${id} out of turn`, { id }, "ignored");
      return [];
    }
    if (value !== 1) return [];
    port.ready = true;
    const out: Uint8Array[] = [];
    if (port.console) out.push(message(id, VIRTIO_CONSOLE_CONSOLE_PORT, 1));
    if (port.name !== "") {
      out.push(message(id, VIRTIO_CONSOLE_PORT_NAME, 1, new TextEncoder().encode(port.name)));
    }
    if (port.hostOpen) out.push(message(id, VIRTIO_CONSOLE_PORT_OPEN, 1));
    return out;
  }
  if (port === undefined || !port.ready) {
    reporter.report(
      "5.3.6.2/D2",
      `PORT_OPEN for port ${id}, which is not ready`,
      { id },
      "ignored",
    );
    return [];
  }
  if (port.console && port.guestOpen === null && value !== 1) {
    reporter.report("5.3.6.2.2/2", `Console port ${id} answered with PORT_OPEN ${value}`, {
      id,
      value,
    }, "recorded");
  }
  port.guestOpen = value === 1;
  return [];
}

export function deviceReadyMessage(state: DriverControlState): Uint8Array {
  state.deviceReadySent = true;
  return message(0, VIRTIO_CONSOLE_DEVICE_READY, 1);
}

export function handleControlMessage(
  state: DriverControlState,
  bytes: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  if (!state.deviceReadySent) {
    reporter.report("5.3.6.2/D5", "Control message before DEVICE_READY was sent", {
      length: bytes.length,
    }, "ignored");
    return [];
  }
  if (bytes.length < 8) {
    reporter.report(
      "5.3.6.2/D3",
      "Control message shorter than 8 bytes",
      { length: bytes.length },
      "ignored",
    );
    return [];
  }
  const { id, event, value } = header(bytes);
  const index = state.ports.findIndex((p) => p.id === id);
  const port = index < 0 ? undefined : state.ports[index];
  switch (event) {
    case VIRTIO_CONSOLE_DEVICE_ADD:
      if (port || id >= state.maxNrPorts) {
        reporter.report(
          "5.3.6.2.1/1",
          `DEVICE_ADD for port ${id}`,
          { id, max: state.maxNrPorts },
          "ignored",
        );
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
      return [message(id, VIRTIO_CONSOLE_PORT_READY, 1)];
    case VIRTIO_CONSOLE_DEVICE_REMOVE:
      if (!port) {
        reporter.report("5.3.6.2.1/2", `DEVICE_REMOVE for unknown port ${id}`, { id }, "ignored");
        return [];
      }
      state.ports.splice(index, 1);
      return [];
    case VIRTIO_CONSOLE_CONSOLE_PORT:
    case VIRTIO_CONSOLE_PORT_NAME:
    case VIRTIO_CONSOLE_PORT_OPEN:
    case VIRTIO_CONSOLE_RESIZE:
      if (!port) {
        reporter.report(
          "5.3.6.2/D4",
          `Event ${event} for unknown port ${id}`,
          { id, event },
          "ignored",
        );
        return [];
      }
      break;
    default:
      reporter.report(
        "5.3.6.2/D3",
        `Event ${event} is not a device-to-driver event`,
        { event },
        "ignored",
      );
      return [];
  }
  switch (event) {
    case VIRTIO_CONSOLE_CONSOLE_PORT:
      port.console = true;
      port.guestOpen = true;
      return [message(id, VIRTIO_CONSOLE_PORT_OPEN, 1)];
    case VIRTIO_CONSOLE_PORT_NAME: {
      const tail = bytes.subarray(8);
      const end = tail.indexOf(0);
      port.name = new TextDecoder().decode(end < 0 ? tail : tail.subarray(0, end));
      return [];
    }
    case VIRTIO_CONSOLE_PORT_OPEN:
      port.hostOpen = value === 1;
      return [];
    default: {
      if (bytes.length < 12) {
        reporter.report(
          "5.3.6.2/D3",
          "RESIZE without cols and rows",
          { length: bytes.length },
          "ignored",
        );
        return [];
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      port.size = { cols: view.getUint16(8, true), rows: view.getUint16(10, true) };
      return [];
    }
  }
}
