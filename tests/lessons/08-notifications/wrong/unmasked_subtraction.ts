// Mistake: Linux's formula copied without its (__u16) casts. In C the casts
// wrap each difference into 0..65535; JavaScript's numbers go negative
// instead, so near the wrap a distance of -2 counts as "less than" any
// number of entries published.
// Source: none
// Must fail: "vring_need_event is right at every corner of the 16-bit wrap" [2.7.10.1/3]

export {
  disableNotifications,
  enableNotifications,
  needsKick,
  queueNotifyTarget,
} from "../correct/linux_names.ts";

export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return newIdx - eventIdx - 1 < newIdx - oldIdx;
}
