// Mistake: DEVICE_READY announces every port, including those announced already (a driver that
// resends DEVICE_READY gets each port twice).
// Source: none (a slip a learner makes; no public bug report)
// Must fail: "DEVICE_READY(1) announces every port not announced yet, once" [5.3.6.2.1/1]

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { DeviceControlState } from "../../../../devices/console/control.ts";
import {
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_PORT_NAME,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
} from "../../../../devices/console/constants.ts";

export { deviceReadyMessage, handleControlMessage } from "../correct/switch.ts";

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
