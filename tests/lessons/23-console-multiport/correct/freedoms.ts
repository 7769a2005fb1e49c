// Correct: every freedom the contract leaves. DEVICE_READY carries NetBSD's
// id 0xffffffff; DEVICE_ADD and PORT_NAME carry QEMU's value 1 and
// CONSOLE_PORT value 0; the driver puts new ports at the front of its
// table; reports say as little as they may, with no values; the device's
// answers to PORT_READY come name first.

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type {
  DeviceControlState,
  DriverControlState,
} from "../../../../devices/console/control.ts";
import { encodeControl } from "../../../../devices/console/control.ts";

const quietly = (reporter: ConformanceReporter, id: Parameters<ConformanceReporter["report"]>[0]) =>
  reporter.report(id, "refused", {}, "");

export function handleDriverMessage(
  state: DeviceControlState,
  message: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const event = message.length >= 8 ? view.getUint16(4, true) : -1;
  if (event !== 0 && event !== 3 && event !== 6) {
    quietly(reporter, "5.3.6.2/D1");
    return [];
  }
  const id = view.getUint32(0, true);
  const value = view.getUint16(6, true);
  if (event === 0) {
    state.deviceReady = value === 1;
    if (value !== 1) return [];
    const fresh = state.ports.filter((p) => !p.added);
    for (const p of fresh) p.added = true;
    return fresh.map((p) => encodeControl(p.id, 1, 1));
  }
  if (!state.deviceReady) {
    quietly(reporter, "5.3.6.2.2/1");
    return [];
  }
  const port = id < state.ports.length ? state.ports[id] : null;
  if (event === 3) {
    if (!port || !port.added || port.ready) {
      quietly(reporter, "5.3.6.2/D2");
      return [];
    }
    if (value !== 1) return [];
    port.ready = true;
    const answers: Uint8Array[] = [];
    if (port.name) answers.push(encodeControl(id, 7, 1, new TextEncoder().encode(port.name)));
    if (port.console) answers.push(encodeControl(id, 4, 0));
    if (port.hostOpen) answers.push(encodeControl(id, 6, 1));
    return answers;
  }
  if (!port?.ready) {
    quietly(reporter, "5.3.6.2/D2");
    return [];
  }
  if (port.console && port.guestOpen === null && value !== 1) quietly(reporter, "5.3.6.2.2/2");
  port.guestOpen = value === 1;
  return [];
}

export function deviceReadyMessage(state: DriverControlState): Uint8Array {
  state.deviceReadySent = true;
  return encodeControl(0xffff_ffff, 0, 1);
}

export function handleControlMessage(
  state: DriverControlState,
  message: Uint8Array,
  reporter: ConformanceReporter,
): Uint8Array[] {
  if (!state.deviceReadySent) {
    quietly(reporter, "5.3.6.2/D5");
    return [];
  }
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const event = message.length >= 8 ? view.getUint16(4, true) : -1;
  if (event < 1 || event > 7 || event === 3) {
    quietly(reporter, "5.3.6.2/D3");
    return [];
  }
  const id = view.getUint32(0, true);
  const port = state.ports.find((p) => p.id === id);
  if (event === 1) {
    if (port || id >= state.maxNrPorts) {
      quietly(reporter, "5.3.6.2.1/1");
      return [];
    }
    state.ports.unshift({
      id,
      name: null,
      console: false,
      hostOpen: false,
      guestOpen: false,
      size: null,
    });
    return [encodeControl(id, 3, 1)];
  }
  if (!port) {
    quietly(reporter, event === 2 ? "5.3.6.2.1/2" : "5.3.6.2/D4");
    return [];
  }
  if (event === 2) {
    state.ports.splice(state.ports.indexOf(port), 1);
  } else if (event === 4) {
    Object.assign(port, { console: true, guestOpen: true });
    return [encodeControl(id, 6, 1)];
  } else if (event === 5) {
    if (message.length < 12) {
      quietly(reporter, "5.3.6.2/D3");
      return [];
    }
    port.size = { cols: view.getUint16(8, true), rows: view.getUint16(10, true) };
  } else if (event === 6) {
    port.hostOpen = view.getUint16(6, true) === 1;
  } else {
    const name = new TextDecoder().decode(message.subarray(8));
    port.name = name.includes("\0") ? name.slice(0, name.indexOf("\0")) : name;
  }
  return [];
}
