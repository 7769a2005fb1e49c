/** Shared set-up for transport tests: RAM, a log, a fake device behind a register file. */

import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { MmioDeviceTransport } from "../../transport/mmio_device.ts";
import type { MmioRegion, RegisterWindow } from "../../transport/types.ts";
import { FakeDevice } from "./_fake_device.ts";

export const RAM_BASE = 0x4000_0000;

export function setup(device = new FakeDevice(), strict = false, ramBase = RAM_BASE) {
  const memory = new GuestMemory(1 << 20, { base: ramBase });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog({ strict });
  const transport = new MmioDeviceTransport(device, { memory, log, name: "fake@0x1e000" });
  const window = windowOf(transport, 0x1e000);
  return { memory, allocator, log, device, transport, window };
}

/** A driver's view of a region without a bus in between. */
export function windowOf(region: MmioRegion, base = 0): RegisterWindow {
  return {
    base,
    size: region.size,
    read32: (o) => region.read(o, 4),
    write32: (o, v) => region.write(o, 4, v >>> 0),
    read16: (o) => region.read(o, 2),
    write16: (o, v) => region.write(o, 2, v & 0xffff),
    read8: (o) => region.read(o, 1),
    write8: (o, v) => region.write(o, 1, v & 0xff),
  };
}

/** A window that records every access, for checking a driver's access order. */
export function recordingWindow(inner: RegisterWindow) {
  const accesses: string[] = [];
  const hex = (o: number) => `0x${o.toString(16).padStart(3, "0")}`;
  const window: RegisterWindow = {
    base: inner.base,
    size: inner.size,
    read32: (o) => (accesses.push(`r ${hex(o)}`), inner.read32(o)),
    write32: (o, v) => (accesses.push(`w ${hex(o)}=${v >>> 0}`), inner.write32(o, v)),
    read16: (o) => (accesses.push(`r16 ${hex(o)}`), inner.read16(o)),
    write16: (o, v) => (accesses.push(`w16 ${hex(o)}=${v}`), inner.write16(o, v)),
    read8: (o) => (accesses.push(`r8 ${hex(o)}`), inner.read8(o)),
    write8: (o, v) => (accesses.push(`w8 ${hex(o)}=${v}`), inner.write8(o, v)),
  };
  return { window, accesses };
}

/** The ids recorded in a log, in order. */
export function ids(log: ConformanceLog): string[] {
  return log.entries.map((v) => v.id);
}

/**
 * A window whose registers answer from a table (a value, or a function
 * called on each read); writes are recorded and passed to `onWrite`.
 */
export function scriptedWindow(
  values: Record<number, number | (() => number)>,
  onWrite?: (offset: number, value: number) => void,
) {
  const read = (o: number) => {
    const v = values[o];
    return typeof v === "function" ? v() : v ?? 0;
  };
  const inner: RegisterWindow = {
    base: 0,
    size: 0x200,
    read32: read,
    write32: (o, v) => onWrite?.(o, v),
    read16: read,
    write16: (o, v) => onWrite?.(o, v),
    read8: read,
    write8: (o, v) => onWrite?.(o, v),
  };
  return recordingWindow(inner);
}
