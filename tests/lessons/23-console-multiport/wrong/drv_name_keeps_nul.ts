// Mistake: The name is every byte after the header, as the spec describes it; QEMU's NUL stays at
// its end.
// Source: QEMU hw/char/virtio-serial-bus.c, handle_control_message (PORT_READY): PORT_NAME is
// built as sizeof(cpkt) + strlen(port->name) + 1 bytes, the last set to 0
// Must fail: "PORT_NAME's name is the UTF-8 text after the header, up to a NUL" [5.3.6.2/D3]

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { DriverControlState } from "../../../../devices/console/control.ts";
import {
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_REMOVE,
  VIRTIO_CONSOLE_PORT_NAME,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_RESIZE,
} from "../../../../devices/console/constants.ts";

export { deviceReadyMessage, handleDriverMessage } from "../correct/switch.ts";

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
      port.name = new TextDecoder().decode(bytes.subarray(8));
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
