/**
 * A parts module for the supervised fuzz engine (`fuzz/worker.ts` loads it):
 * a device-side `walkChain` that, for the last head of the table, spins
 * forever without reading guest memory, so the read budget never stops it;
 * every other head goes to the reference walk.
 *
 * @module
 */

import type { MachineParts } from "../../machine.ts";
import { walkChain } from "../../virtqueue/device/walk.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";

/** Counts the spins, so that the loop has a body. */
export let spins = 0;

/** `walkChain`, except that head Queue Size - 1 never comes back. */
export function spinningWalkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  if (head === ring.size - 1) {
    for (;;) spins++;
  }
  return walkChain(ring, head);
}

/** The parts to fuzz: the spinning walk on the device side. */
export function loadFuzzParts(): Promise<{ parts: MachineParts }> {
  return Promise.resolve({ parts: { virtqueue: { device: { walkChain: spinningWalkChain } } } });
}
