/**
 * Planted bugs the fuzz engine must find: a device half that trusts `next`,
 * a driver half that trusts the used `id` and `len`, and bring-up steps that
 * trust the device. Shared by the engine
 * tests and the CLI tests.
 *
 * @module
 */

import type { MachineParts } from "../../machine.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import { VIRTIO_MMIO_STATUS } from "../../transport/mmio_registers.ts";
import { addStatus, readDeviceFeatures, writeDriverFeatures } from "../../transport/driver_init.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_FEATURES_OK,
} from "../../virtio/status.ts";
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

/**
 * A `beginInitialization` that waits for the reset without a bound: it
 * polls Status until it reads 0, however long that takes (2.4.2/1 asks for
 * the wait, not for giving up).
 */
export function unboundedBeginInitialization(window: RegisterWindow): void {
  window.write32(VIRTIO_MMIO_STATUS, 0);
  while (window.read32(VIRTIO_MMIO_STATUS) !== 0) {
    // The device will get there.
  }
  window.write32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
  window.write32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
}

/**
 * A `negotiateFeatures` that sets FEATURES_OK and never reads Status back
 * (§3.1.1 step 6): a device that refused the subset is driven anyway.
 */
export function trustingNegotiateFeatures(window: RegisterWindow, supported: bigint): bigint {
  const accepted = readDeviceFeatures(window) & (supported | (1n << 32n));
  writeDriverFeatures(window, accepted);
  addStatus(window, VIRTIO_CONFIG_S_FEATURES_OK);
  return accepted;
}

/** The planted bring-up bugs: a reset waited for without bound, FEATURES_OK never re-read. */
export const UNBOUNDED_RESET: MachineParts = {
  transport: { driver: { beginInitialization: unboundedBeginInitialization } },
};
/** See {@linkcode trustingNegotiateFeatures}. */
export const FEATURES_OK_NOT_REREAD: MachineParts = {
  transport: { driver: { negotiateFeatures: trustingNegotiateFeatures } },
};
