// The lab machine on the legacy virtio-mmio interface (§4.2.4): Version 1
// windows, the driver side's legacy steps, and the same traffic as ever.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createMachine } from "../machine.ts";
import { MemoryBlockBackend } from "../devices/blk/backends.ts";
import { MemoryConsoleBackend } from "../devices/console/backends.ts";
import {
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
} from "../virtio/features.ts";
import { VIRTIO_CONFIG_S_FEATURES_OK } from "../virtio/status.ts";
import { vringLayout } from "../virtqueue/layout.ts";

Deno.test("a legacy machine: every window reads Version 1, the drivers negotiate 32 bits without FEATURES_OK", async () => {
  const machine = await createMachine({ legacy: true, strict: true });
  try {
    const devices = machine.devices();
    assert.deepEqual(devices.map((d) => [d.type, d.version, d.state]), [
      ["virtio-blk", 1, "live"],
      ["virtio-console", 1, "live"],
      ["empty slot", 0, "empty"],
    ]);
    for (const dev of [machine.blk, machine.console]) {
      assert.equal(dev.transport.version, 1);
      assert.equal(dev.driverTransport.legacy, true);
      const negotiated = dev.driverTransport.features;
      assert.equal(negotiated >> 32n, 0n, `${dev.device.name}: 32 feature bits`);
      assert.equal(hasFeature(negotiated, VIRTIO_F_VERSION_1), false);
      assert.equal(hasFeature(negotiated, VIRTIO_F_RING_RESET), false);
      assert.ok(
        hasFeature(negotiated, VIRTIO_F_INDIRECT_DESC) &&
          hasFeature(negotiated, VIRTIO_F_EVENT_IDX),
      );
      assert.equal(dev.transport.status & VIRTIO_CONFIG_S_FEATURES_OK, 0);
      // Each queue is one region of vring_size bytes, its parts where §2.7.2 puts them.
      for (const q of dev.transport.inspect().queues.filter((q) => q.live)) {
        const layout = vringLayout(q.num, 4096);
        assert.equal(q.legacy?.pfn, q.desc / 4096);
        assert.equal(q.driver - q.desc, layout.availOffset);
        assert.equal(q.device - q.desc, layout.usedOffset);
      }
    }
    assert.match(machine.blk.transport.inspect().format(), /GuestPageSize +4096/);
    assert.doesNotMatch(machine.blk.transport.inspect().format(), /ConfigGeneration/);
  } finally {
    await machine.close();
  }
});

Deno.test("a legacy machine carries the console both ways and reads and writes the whole disk, on a strict log", async () => {
  const image = new Uint8Array(1 << 20);
  for (let i = 0; i < image.length; i += 4) {
    new DataView(image.buffer).setUint32(i, i * 2654435761, true);
  }
  const expected = createHash("sha256").update(image).digest("hex");
  const console = new MemoryConsoleBackend();
  const machine = await createMachine({
    legacy: true,
    strict: true,
    disk: new MemoryBlockBackend(image.slice()),
    console,
  });
  try {
    const blk = machine.blk.driver!;
    const hash = createHash("sha256");
    for (let sector = 0; sector < 2048; sector += 256) hash.update(await blk.read(sector, 256));
    assert.equal(hash.digest("hex"), expected);
    const data = new Uint8Array(4096).fill(0x5a);
    await blk.write(8, data);
    assert.deepEqual(await blk.read(8, 8), data);
    const driver = machine.console.driver!;
    const text = "legacy ".repeat(1300); // 9,100 bytes: many chains
    await driver.write(text);
    await console.waitForOutput(text.length);
    assert.equal(console.outputText, text);
    console.input("typed on a legacy console");
    const input = driver[Symbol.asyncIterator]();
    const { value } = await input.next();
    await input.return?.();
    assert.equal(new TextDecoder().decode(value), "typed on a legacy console");
    assert.equal(machine.log.entries.length, 0);
  } finally {
    await machine.close();
  }
});
