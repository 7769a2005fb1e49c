// A device that cannot be brought up never takes the machine down: the
// probe fails with an error that says why (the rule in the log where the
// device broke one), the driver is not exposed (`machine.blk.driver` and
// `machine.console.driver` are null), nothing reaches the error sink, and
// the machine closes.

import assert from "node:assert/strict";
import { createMachine } from "../machine.ts";
import { MemoryBlockBackend } from "../devices/blk/backends.ts";
import { VirtioBlockDevice } from "../devices/blk/device.ts";
import { MemoryConsoleBackend } from "../devices/console/backends.ts";
import { VirtioConsoleDevice } from "../devices/console/device.ts";
import { featureMask, VIRTIO_F_VERSION_1 } from "../virtio/features.ts";

/** A block device model without requestq: QueueNumMax reads 0 for queue 0. */
class NoQueueBlockDevice extends VirtioBlockDevice {
  override readonly queueMaxSizes: readonly number[] = Object.freeze([0]);
}

/** A block device model that offers no VIRTIO_F_VERSION_1: legacy-only, on a Version 2 window. */
class LegacyOnlyBlockDevice extends VirtioBlockDevice {
  constructor(backend: MemoryBlockBackend) {
    super(backend);
    (this as { deviceFeatures: bigint }).deviceFeatures = this.deviceFeatures &
      ~featureMask(VIRTIO_F_VERSION_1);
  }
}

/** A console device model that refuses every feature subset: FEATURES_OK never sticks. */
class RefusingConsoleDevice extends VirtioConsoleDevice {
  checkFeatures(): string | null {
    return "this device accepts no feature subset";
  }
}

const cases = [
  {
    name: "a block device without a request queue",
    options: () => ({ blockDevice: new NoQueueBlockDevice(new MemoryBlockBackend(64 * 1024)) }),
    which: "blk" as const,
    error: /Queue 0 does not exist \(QueueNumMax reads 0\)/,
    rule: null,
  },
  {
    name: "a modern block device that does not offer VIRTIO_F_VERSION_1",
    options: () => ({ blockDevice: new LegacyOnlyBlockDevice(new MemoryBlockBackend(64 * 1024)) }),
    which: "blk" as const,
    error: /does not offer VIRTIO_F_VERSION_1/,
    rule: "6.2/1",
  },
  {
    name: "a console device that refuses every feature subset",
    options: () => ({ consoleDevice: new RefusingConsoleDevice(new MemoryConsoleBackend()) }),
    which: "console" as const,
    error: /FEATURES_OK did not stick/,
    rule: null,
  },
];

for (const c of cases) {
  Deno.test(`${c.name}: the probe fails, the driver is null, the machine goes on`, async () => {
    const caught: unknown[] = [];
    const machine = await createMachine({
      ...c.options(),
      onError: (error) => caught.push(error),
    });
    try {
      const device = machine[c.which];
      assert.equal(device.driver, null);
      assert.match(device.error, c.error);
      assert.equal(device.driverTransport.state, "failed");
      if (c.rule) assert.ok(machine.log.entries.some((v) => v.id === c.rule), machine.log.format());
      // The other device is unaffected.
      const other = machine[c.which === "blk" ? "console" : "blk"];
      assert.notEqual(other.driver, null, other.error);
      assert.deepEqual(caught, []);
    } finally {
      await machine.close();
    }
  });
}
