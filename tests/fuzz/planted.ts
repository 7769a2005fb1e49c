/**
 * Planted bugs the fuzz engine must find: a device half that trusts `next`
 * and a driver half that trusts the used `id` and `len`. Shared by the engine
 * tests and the CLI tests.
 *
 * @module
 */

import type { MachineParts } from "../../machine.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import {
  usedElemOffset,
  VIRTQ_USED_ELEM_ID_OFFSET,
  VIRTQ_USED_ELEM_LEN_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "../../virtqueue/layout.ts";

/**
 * A `walkChain` that follows `next` wherever it points: no loop bound, no
 * range check, no length, order or RAM checks. Readable and writable by flag.
 */
export function trustingWalkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const m = ring.memory;
  const readable: { addr: number; len: number }[] = [];
  const writable: { addr: number; len: number }[] = [];
  let count = 0;
  for (let i = head;;) {
    const at = ring.descAddr + 16 * i;
    const seg = { addr: m.readU64Number(at), len: m.readU32(at + 8) };
    const flags = m.readU16(at + 12);
    ((flags & 2) !== 0 ? writable : readable).push(seg);
    count++;
    if ((flags & 1) === 0) break;
    i = m.readU16(at + 14);
  }
  const sum = (s: { len: number }[]) => s.reduce((n, x) => n + x.len, 0);
  return {
    head,
    readable,
    writable,
    readableLength: sum(readable),
    writableLength: sum(writable),
    descriptorCount: count,
    indirect: false,
  };
}

/** A `getBuf` that believes the used element: any `id` is freed, any `len` is passed on. */
export function trustingGetBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): { token: T; len: number } | null {
  const m = ring.memory;
  const usedIdx = m.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET);
  if (usedIdx === ring.lastUsed) return null;
  const elem = ring.usedAddr + usedElemOffset(ring.lastUsed & ring.mask);
  const id = m.readU32(elem + VIRTQ_USED_ELEM_ID_OFFSET);
  const len = m.readU32(elem + VIRTQ_USED_ELEM_LEN_OFFSET);
  ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
  ring.published--;
  return { token: detach(id & ring.mask), len };
}

/** The planted device-half bug, as `createMachine({ parts })` takes it. */
export const TRUSTS_NEXT: MachineParts = {
  virtqueue: { device: { walkChain: trustingWalkChain } },
};

/** The planted driver-half bug. */
export const TRUSTS_USED: MachineParts = { virtqueue: { driver: { getBuf: trustingGetBuf } } };

/**
 * A console `receivedBytes` that believes the used `len`: it hands the reader
 * `len` bytes from the buffer, however large the buffer is.
 */
export function trustingReceivedBytes(
  memory: GuestMemory,
  buffer: number,
  _size: number,
  len: number,
): Uint8Array {
  return memory.bytes(buffer, Math.min(len, memory.base + memory.size - buffer)).slice();
}

/**
 * The planted console-driver bug: the ring hands back any used entry as it
 * is, and the driver copies out as many bytes as its `len` says.
 */
export const CONSOLE_TRUSTS_LEN: MachineParts = {
  virtqueue: { driver: { getBuf: trustingGetBuf } },
  console: { driver: { receivedBytes: trustingReceivedBytes } },
};
