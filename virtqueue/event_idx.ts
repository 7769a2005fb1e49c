/**
 * The event-index test of `VIRTIO_F_EVENT_IDX` (virtio v1.2 §2.7.7, §2.7.10),
 * as Linux's `vring_need_event` in `linux/virtio_ring.h`.
 *
 * @module
 */

/**
 * Whether moving a ring index from `oldIdx` to `newIdx` crossed `eventIdx`,
 * i.e. whether one of the entries just published, at indices `oldIdx` up to
 * `newIdx - 1`, sits at index `eventIdx`: the other side asked to be notified
 * when that entry is written. All three values are free-running 16-bit ring
 * indices; the arithmetic wraps at 65536.
 *
 * The driver calls it with `avail_event` and the old and new available `idx`
 * (§2.7.10.1); the device with `used_event` and the old and new used `idx`
 * (§2.7.7.2).
 *
 * @param eventIdx `used_event` or `avail_event`, as read from the other side's ring.
 * @param newIdx The ring index after publishing.
 * @param oldIdx The ring index when the last notification decision was made.
 * @returns `true` if a notification is due.
 *
 * @example
 * ```ts
 * import { vringNeedEvent } from "./event_idx.ts";
 * vringNeedEvent(5, 6, 5); // true: entry 5 was the one asked for
 * vringNeedEvent(7, 6, 5); // false: not there yet
 * vringNeedEvent(0xffff, 1, 0xfffe); // true: crossed, across the 16-bit wrap
 * ```
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  // (u16)(new - event - 1) < (u16)(new - old): the distance back from the new
  // index to the event entry is smaller than the number of entries published.
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
