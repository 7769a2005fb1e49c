// Correct: the freedoms the contract leaves. vring_need_event on 32-bit
// signed shifts; needsKick reads the field once into a local and reports
// through the reporter only the first time a ring shows a bad value; problems
// carry no values and their own wording; with event idx the device also
// (re)writes flags 0 and stores avail_event before flags; the re-check reads
// idx through a 32-bit load of flags and idx together.

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { NotifyContext, NotifyTarget } from "../../../../transport/queue_notify.ts";

export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  const distanceBack = ((newIdx - eventIdx - 1) << 16) >>> 16;
  const published = ((newIdx - oldIdx) << 16) >>> 16;
  return distanceBack < published;
}

const reported = new WeakSet<object>();

export function needsKick(ring: SplitDriverRing<unknown>, oldIdx: number): boolean {
  const field = ring.eventIdx ? ring.availEventAddr : ring.usedAddr;
  const value = ring.memory.readU16(field);
  if (ring.eventIdx) return vringNeedEvent(value, ring.availIdx, oldIdx);
  if ((value & ~1) !== 0 && !reported.has(ring)) {
    reported.add(ring);
    ring.reporter.report("2.7.10.2/1", `Used ring flags 0x${value.toString(16)}`, {});
  }
  return !(value & 1);
}

export function queueNotifyTarget(value: number, device: NotifyContext): NotifyTarget {
  const queue = value >>> 0;
  const refuse = (id: "3.1.1/6" | "4.2.3.3/D1", message: string): NotifyTarget => ({
    deliver: false,
    queue,
    problem: { id, message, values: {}, action: "ignored" },
  });
  if (!(device.status & 0x04)) return refuse("3.1.1/6", "Kick before the driver was ready");
  if (!device.active) return { deliver: false, queue, problem: null };
  const target = queue < device.queues.length ? device.queues[queue] : undefined;
  if (target === undefined) return refuse("4.2.3.3/D1", `No queue number ${queue} here`);
  if (!target.ready) return refuse("4.2.3.3/D1", `Queue ${queue} was kicked while stopped`);
  return { deliver: true, queue, problem: null };
}

export function disableNotifications(ring: SplitDeviceRing): void {
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.availEventAddr, (ring.lastAvail + 0xffff) % 0x10000);
    ring.memory.writeU16(ring.usedAddr, 0);
  } else {
    ring.memory.writeU16(ring.usedAddr, 1);
  }
  ring.notifications = false;
}

export function enableNotifications(ring: SplitDeviceRing): boolean {
  if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, ring.lastAvail);
  ring.memory.writeU16(ring.usedAddr, 0);
  ring.notifications = true;
  const flagsAndIdx = ring.memory.readU32(ring.availAddr);
  return flagsAndIdx >>> 16 !== ring.lastAvail;
}
