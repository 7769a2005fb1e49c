// The whole action the device takes when a driver breaks a rule of the split
// ring it cannot go on from: the queue reports the violation and breaks, and
// the transport sets DEVICE_NEEDS_RESET, raises a configuration change
// interrupt and delivers nothing more to the device model (docs/DEVICE_ERRORS.md).

import assert from "node:assert/strict";
import { ids, RAM_BASE, setup } from "./_harness.ts";
import * as R from "../../transport/mmio_registers.ts";
import {
  beginInitialization,
  negotiateFeatures,
  probeWindow,
} from "../../transport/mmio_driver.ts";
import {
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET as NEEDS_RESET,
} from "../../virtio/status.ts";
import { features, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";
import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../../virtqueue/constants.ts";

const DESC = RAM_BASE + 0x1000;
const AVAIL = RAM_BASE + 0x1400;
const USED = RAM_BASE + 0x1800;
const DATA = RAM_BASE + 0x8000;

Deno.test("a looped chain breaks the queue, sets DEVICE_NEEDS_RESET with the violation and raises a config change", () => {
  const { window, log, memory, device, transport } = setup();
  probeWindow(window);
  beginInitialization(window);
  negotiateFeatures(window, features(VIRTIO_F_VERSION_1));
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, 0);
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
  window.write32(R.VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
  window.write32(R.VIRTIO_MMIO_QUEUE_USED_LOW, USED);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_STATUS, window.read32(R.VIRTIO_MMIO_STATUS) | DRIVER_OK);
  assert.deepEqual(ids(log), []);

  // Descriptor 0 chains to itself (QEMU's "Looped descriptor").
  const desc = (i: number, addr: number, len: number, flags: number, next: number) => {
    memory.writeU64(DESC + 16 * i, addr);
    memory.writeU32(DESC + 16 * i + 8, len);
    memory.writeU16(DESC + 16 * i + 12, flags);
    memory.writeU16(DESC + 16 * i + 14, next);
  };
  desc(0, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
  memory.writeU16(AVAIL + 4, 0);
  memory.writeU16(AVAIL + 2, 1);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 0);

  assert.deepEqual(ids(log), ["2.7.5.3.1/3"]);
  assert.ok(window.read32(R.VIRTIO_MMIO_STATUS) & NEEDS_RESET);
  assert.match(transport.needsResetReason, /^§2\.7\.5\.3\.1\/3: Chain at head 0 /);
  assert.equal(window.read32(R.VIRTIO_MMIO_INTERRUPT_STATUS) & R.VIRTIO_MMIO_INT_CONFIG, 2);
  assert.equal(memory.readU16(USED + 2), 0, "nothing was returned");
  assert.equal(device.notifications.length, 1);

  // A good chain afterwards is not taken: the device is stopped until the driver resets it.
  desc(1, DATA, 16, VIRTQ_DESC_F_WRITE, 0);
  memory.writeU16(AVAIL + 6, 1);
  memory.writeU16(AVAIL + 2, 2);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  assert.equal(device.notifications.length, 1, "no notification reaches the device model");
  assert.equal(memory.readU16(USED + 2), 0);
  assert.deepEqual(ids(log), ["2.7.5.3.1/3"]);
});
