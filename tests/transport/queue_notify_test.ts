import assert from "node:assert/strict";
import { queueNotifyTarget } from "../../transport/queue_notify.ts";
import { ids, RAM_BASE, setup } from "./_harness.ts";
import * as R from "../../transport/mmio_registers.ts";
import {
  beginInitialization,
  negotiateFeatures,
  probeWindow,
} from "../../transport/driver_init.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
} from "../../virtio/status.ts";
import { featureMask, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";

const LIVE = ACK | DRIVER | FEATURES_OK | DRIVER_OK;
const queues = [{ ready: true }, { ready: false }];
const device = { status: LIVE, active: true, queues };

Deno.test("queueNotifyTarget delivers a notification for a ready queue", () => {
  assert.deepEqual(queueNotifyTarget(0, device), { deliver: true, queue: 0, problem: null });
});

Deno.test("queueNotifyTarget: before DRIVER_OK the driver must not notify (3.1.1/6)", () => {
  for (const status of [0, ACK | DRIVER, ACK | DRIVER | FEATURES_OK]) {
    const target = queueNotifyTarget(0, { status, active: false, queues });
    assert.equal(target.deliver, false);
    assert.equal(target.problem?.id, "3.1.1/6");
    assert.equal(target.problem?.action, "ignored");
    assert.equal(target.queue, 0);
  }
});

Deno.test("queueNotifyTarget: a device that is not active ignores notifications silently", () => {
  const target = queueNotifyTarget(0, { status: LIVE | FAILED, active: false, queues });
  assert.deepEqual(target, { deliver: false, queue: 0, problem: null });
});

Deno.test("queueNotifyTarget: an index at or beyond the queues, 0xffff_ffff included, is 4.2.3.3/D1, unsigned", () => {
  for (const value of [2, 7, 0xffff, 0x1_0000, 0x8000_0000, 0xffff_ffff]) {
    const target = queueNotifyTarget(value, device);
    assert.equal(target.deliver, false, `0x${value.toString(16)}`);
    assert.equal(target.problem?.id, "4.2.3.3/D1");
    assert.equal(target.queue, value, "the index is the whole u32, never truncated or negative");
    assert.match(target.problem!.message, /does not exist/);
  }
  // A negative number is the same 32 bits as 0xffff_ffff (CVE-2011-2512's signed compare).
  assert.equal(queueNotifyTarget(-1, device).queue, 0xffff_ffff);
  assert.equal(queueNotifyTarget(-1, device).deliver, false);
});

Deno.test("queueNotifyTarget: a queue whose QueueReady is 0 is 4.2.3.3/D1", () => {
  const target = queueNotifyTarget(1, device);
  assert.equal(target.deliver, false);
  assert.equal(target.problem?.id, "4.2.3.3/D1");
  assert.match(target.problem!.message, /not ready/);
});

Deno.test("the register file logs and ignores QueueNotify 0xffff_ffff and 0x1_0000 without notifying queue 0", () => {
  const { window, log, device: fake } = setup();
  probeWindow(window);
  beginInitialization(window);
  negotiateFeatures(window, featureMask(VIRTIO_F_VERSION_1));
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, 0);
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_DESC_LOW, RAM_BASE + 0x1000);
  window.write32(R.VIRTIO_MMIO_QUEUE_AVAIL_LOW, RAM_BASE + 0x2000);
  window.write32(R.VIRTIO_MMIO_QUEUE_USED_LOW, RAM_BASE + 0x3000);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_STATUS, LIVE);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 0xffff_ffff);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 0x1_0000);
  assert.deepEqual(fake.notifications, [], "queue 0 was not notified");
  assert.deepEqual(ids(log), ["4.2.3.3/D1", "4.2.3.3/D1"]);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  assert.deepEqual(fake.notifications, [0]);
});
