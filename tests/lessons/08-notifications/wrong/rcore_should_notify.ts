// Mistake: the event-index test compares the new idx with avail_event + 1 as
// plain numbers, the way rcore-os/virtio-drivers' should_notify does
// (`self.avail_idx >= avail_event.wrapping_add(1)`): right while nothing
// wraps, but a batch that crosses 0xffff -> 0x0000 past avail_event is never
// notified, and with avail_event 0xffff every publish is.
// Source: rcore-os/virtio-drivers src/queue.rs, VirtQueue::should_notify, since commit 7385d61
// (2023-07-13, event idx support) and still at 9742c44; counterexample old 0xfffe, new 0x0000,
// avail_event 0xfffe.
// Must fail: "vring_need_event is right at every corner of the 16-bit wrap" [2.7.10.1/3]

export {
  disableNotifications,
  enableNotifications,
  needsKick,
  queueNotifyTarget,
} from "../correct/linux_names.ts";

export function vringNeedEvent(eventIdx: number, newIdx: number, _oldIdx: number): boolean {
  return newIdx >= ((eventIdx + 1) & 0xffff);
}
