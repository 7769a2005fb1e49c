// The lab machine's options that shape what the guest sees.
import assert from "node:assert/strict";
import { createMachine } from "../machine.ts";
import {
  featureMask,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from "../virtio/features.ts";
import { splitQueueLayout } from "../virtqueue/layout.ts";
import { allocateQueueAreas } from "../virtqueue/driver/areas.ts";
import type { SplitQueueDriver } from "../virtqueue/driver_queue.ts";

const ALL = (1n << 64n) - 1n;

Deno.test("featureMask withholds features from every device: the drivers never negotiate them", async () => {
  const full = await createMachine();
  const masked = await createMachine({
    featureMask: ALL & ~(featureMask(VIRTIO_F_INDIRECT_DESC) | featureMask(VIRTIO_F_EVENT_IDX)),
  });
  try {
    for (const [machine, withheld] of [[full, false], [masked, true]] as const) {
      for (const dev of [machine.blk, machine.console]) {
        const negotiated = dev.driverTransport.features;
        assert.ok(hasFeature(negotiated, VIRTIO_F_VERSION_1));
        assert.equal(hasFeature(negotiated, VIRTIO_F_INDIRECT_DESC), !withheld, dev.device.name);
        assert.equal(hasFeature(negotiated, VIRTIO_F_EVENT_IDX), !withheld, dev.device.name);
      }
    }
    const text = new TextDecoder().decode(await masked.blk.driver!.read(2, 1));
    assert.match(text, /^Hello from sector 2!/);
    assert.equal(masked.log.entries.length, 0);
  } finally {
    await full.close();
    await masked.close();
  }
});

Deno.test("the machine sizes every queue's areas with the splitQueueLayout part, through allocateQueueAreas", async () => {
  const layouts: string[] = [];
  const allocations: number[] = [];
  const machine = await createMachine({
    parts: {
      virtqueue: {
        driver: {
          splitQueueLayout(size, eventIdx) {
            layouts.push(`${size} ${eventIdx}`);
            // Roomier than the spec's table: every part on its own 256-byte boundary.
            const l = splitQueueLayout(size, eventIdx);
            return { ...l, descTableAlign: 256, availRingAlign: 256, usedRingAlign: 256 };
          },
          allocateQueueAreas(allocator, size, layout) {
            allocations.push(size);
            return allocateQueueAreas(allocator, size, layout);
          },
        },
      },
    },
  });
  try {
    // The requestq, then the receiveq and the transmitq, each laid out once.
    assert.deepEqual(allocations, [256, 256, 256]);
    assert.deepEqual(layouts, ["256 true", "256 true", "256 true"]);
    for (const dev of [machine.blk, machine.console]) {
      for (const q of dev.driverTransport.queues.values()) {
        const { descAddr, availAddr, usedAddr } = (q as SplitQueueDriver).ring;
        for (const area of [descAddr, availAddr, usedAddr]) assert.equal(area % 256, 0);
      }
    }
    const text = new TextDecoder().decode(await machine.blk.driver!.read(2, 1));
    assert.match(text, /^Hello from sector 2!/);
    assert.equal(machine.log.entries.length, 0);
  } finally {
    await machine.close();
  }
});
