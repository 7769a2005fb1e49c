// Mistake: "was eventIdx among the entries just published" written as an
// interval test on plain numbers, old <= event < new, which is empty as soon
// as the published entries run across 0xffff -> 0x0000.
// Source: none
// Must fail: "vring_need_event is right at every corner of the 16-bit wrap" [2.7.10.1/3]

export {
  disableNotifications,
  enableNotifications,
  needsKick,
  queueNotifyTarget,
} from "../correct/linux_names.ts";

export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return oldIdx <= eventIdx && eventIdx < newIdx;
}
