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
