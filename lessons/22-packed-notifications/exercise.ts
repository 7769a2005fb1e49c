/**
 * "Packed-ring notifications": your exercise.
 *
 * Four functions, the notification decisions of the packed ring (§2.8.10,
 * §2.8.14), two per side. Each side reads the **other** side's Event
 * Suppression structure to decide whether to notify, and writes its **own**
 * to say what it wants:
 *
 * ```text
 *   offset 0: desc  (u16) = desc_event_off (bits 0-14) | desc_event_wrap << 15
 *   offset 2: flags (u16) = RING_EVENT_FLAGS_ENABLE 0 | _DISABLE 1 | _DESC 2 (0x3 and other bits: reserved)
 *   Driver Event Suppression at ring.driverEventAddr (the driver writes it, the device reads it)
 *   Device Event Suppression at ring.deviceEventAddr (the device writes it, the driver reads it)
 * ```
 *
 * - the driver decides a kick ({@linkcode needsKickPacked}) and turns used
 *   buffer notifications on ({@linkcode enableCallbacksPacked});
 * - the device decides an interrupt ({@linkcode needsInterruptPacked}) and
 *   turns available buffer notifications on ({@linkcode enableNotificationsPacked}).
 *
 * The lab's packed queues call them on every queue of both devices
 * (`deno task lab boot --mine --packed`). Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   RING_EVENT_FLAGS_ENABLE, RING_EVENT_FLAGS_DISABLE, RING_EVENT_FLAGS_DESC, // 0, 1, 2
 *   VIRTQ_DESC_F_AVAIL, VIRTQ_DESC_F_USED, PVIRTQ_DESC_SIZE, PVIRTQ_DESC_FLAGS,
 * } from "../../virtqueue/packed/constants.ts";
 * ```
 *
 * Check your work with `deno task lab check packed-notifications`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { PackedDeviceRing } from "../../virtqueue/packed/device_ring.ts";
import type { PackedDriverRing } from "../../virtqueue/packed/driver_ring.ts";

/**
 * Driver side: whether to notify the device of the `ring.numAdded` slots
 * made available since the last decision, which ended at `ring.nextAvail`
 * (wrap counter `ring.availWrap`). Sets `ring.numAdded` to 0.
 *
 * With `ring.numAdded` 0: `false`, and nothing read. Otherwise read the
 * Device Event Suppression structure at `ring.deviceEventAddr` (its flags,
 * and its desc word when they are DESC) and decide:
 *
 * | flags                                   | returns                                              |
 * | --------------------------------------- | ---------------------------------------------------- |
 * | DISABLE                                 | `false`                                              |
 * | ENABLE                                  | `true`                                               |
 * | DESC, with `ring.eventIdx`              | `true` exactly when slot `desc_event_off` on wrap `desc_event_wrap` is one of the slots just made available (every slot counts when `numAdded >= ring.size`) |
 * | 0x3, any bit above bit 1, or DESC without `ring.eventIdx` | `true` (read as ENABLE), after `ring.reporter.report("2.8.14/D2", message, values, action)` |
 *
 * Store nothing. The message and values of the report are yours; a flags
 * value reported before (the library keeps it in `ring.lastBadDeviceFlags`)
 * need not be reported again.
 *
 * @param ring The driver ring.
 * @returns Whether to notify the device.
 */
export function needsKickPacked(ring: PackedDriverRing<unknown>): boolean {
  return todo(
    "needsKickPacked",
    `decide a kick for ${ring.numAdded} slot(s) up to slot ${ring.nextAvail} wrap ${ring.availWrap}`,
  );
}

/**
 * Driver side: asks for used buffer notifications again, then looks once
 * more. Stores into the Driver Event Suppression structure: with
 * `ring.eventIdx`, first its desc word = `ring.nextUsed | ring.usedWrap <<
 * 15`, then its flags = DESC; without, flags = ENABLE. A flags store whose
 * value equals `ring.eventFlagsShadow` may be left out; afterwards
 * `ring.eventFlagsShadow` holds the new flags. **After** those stores, read
 * the flags of the descriptor at `ring.nextUsed`.
 *
 * @param ring The driver ring.
 * @returns `false` if that descriptor is used (AVAIL = USED = `ring.usedWrap`): reap it; else `true`.
 */
export function enableCallbacksPacked(ring: PackedDriverRing<unknown>): boolean {
  return todo(
    "enableCallbacksPacked",
    `turn used buffer notifications on at slot ${ring.nextUsed}`,
  );
}

/**
 * Device side: whether to interrupt the driver for the
 * `ring.usedSinceSignal` slots used since the last decision, which ended at
 * `ring.nextUsed` (wrap counter `ring.usedWrap`). Sets
 * `ring.usedSinceSignal` to 0.
 *
 * The table of {@linkcode needsKickPacked}, with the Driver Event
 * Suppression structure at `ring.driverEventAddr` and `2.8.14/D1` for bad
 * flags (`ring.lastBadDriverFlags` is the library's memory of the last one
 * reported). Store nothing.
 *
 * @param ring The device ring.
 * @returns Whether to interrupt.
 */
export function needsInterruptPacked(ring: PackedDeviceRing): boolean {
  return todo(
    "needsInterruptPacked",
    `decide an interrupt for ${ring.usedSinceSignal} slot(s) up to slot ${ring.nextUsed}`,
  );
}

/**
 * Device side: asks for available buffer notifications again, then looks
 * once more. Sets `ring.notifications` to `true`; stores into the Device Event
 * Suppression structure: with `ring.eventIdx`, first its desc word =
 * `ring.nextAvail | ring.availWrap << 15`, then flags = DESC; without,
 * flags = ENABLE. **After** those stores, read the flags of the descriptor
 * at `ring.nextAvail`.
 *
 * @param ring The device ring.
 * @returns `true` if that descriptor is available (AVAIL = `ring.availWrap`, USED its inverse): pop it.
 */
export function enableNotificationsPacked(ring: PackedDeviceRing): boolean {
  return todo(
    "enableNotificationsPacked",
    `turn available buffer notifications on at slot ${ring.nextAvail}`,
  );
}
