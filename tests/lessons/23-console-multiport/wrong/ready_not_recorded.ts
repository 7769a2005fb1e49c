// Mistake: DEVICE_READY is built but not recorded as sent, so every message the device answers
// with is then refused as coming first.
// Source: none (a slip a learner makes; no public bug report)
// Must fail: "deviceReadyMessage is DEVICE_READY(1), recorded as sent" [5.3.6.2.2/1]

import type { DriverControlState } from "../../../../devices/console/control.ts";
import { VIRTIO_CONSOLE_DEVICE_READY } from "../../../../devices/console/constants.ts";

export { handleControlMessage, handleDriverMessage } from "../correct/switch.ts";

function message(id: number, event: number, value: number, tail = new Uint8Array(0)) {
  const out = new Uint8Array(8 + tail.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, id, true);
  view.setUint16(4, event, true);
  view.setUint16(6, value, true);
  out.set(tail, 8);
  return out;
}

export function deviceReadyMessage(_state: DriverControlState): Uint8Array {
  return message(0, VIRTIO_CONSOLE_DEVICE_READY, 1);
}
