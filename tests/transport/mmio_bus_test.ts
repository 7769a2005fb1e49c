import assert from "node:assert/strict";
import { MmioBus, MmioBusError } from "../../transport/mmio_bus.ts";
import type { AccessWidth } from "../../virtio/device.ts";
import type { InterruptLine, MmioRegion } from "../../transport/types.ts";
import { ConformanceLog } from "../../conformance/log.ts";

class Scratch implements MmioRegion {
  readonly size = 0x200;
  readonly accesses: string[] = [];
  line: InterruptLine | null = null;
  read(offset: number, width: AccessWidth): number {
    this.accesses.push(`r${width * 8} ${offset}`);
    return 0x1234_5678 >>> 0;
  }
  write(offset: number, width: AccessWidth, value: number): void {
    this.accesses.push(`w${width * 8} ${offset}=${value}`);
  }
  connectInterrupt(line: InterruptLine): void {
    this.line = line;
  }
}

Deno.test("windows decode addresses and pass offset and width through", () => {
  const bus = new MmioBus();
  const a = new Scratch();
  const b = new Scratch();
  bus.map(0x1e200, b, { irq: 43, name: "b" });
  bus.map(0x1e000, a, { irq: 42, name: "a" });
  assert.deepEqual(bus.windows.map((w) => w.name), ["a", "b"], "sorted by address");
  bus.read32(0x1e004);
  bus.write16(0x1e202, 0x1_ffff);
  bus.write8(0x1e1ff, 0x1ff);
  assert.deepEqual(a.accesses, ["r32 4", "w8 511=255"]);
  assert.deepEqual(b.accesses, ["w16 2=65535"], "values are truncated to the access width");
  const w = bus.window(0x1e200);
  w.write32(0x70, 0xffff_ffff);
  assert.deepEqual(b.accesses.at(-1), "w32 112=4294967295");
});

Deno.test("unmapped addresses, window-crossing accesses and odd widths are bus faults", () => {
  const bus = new MmioBus();
  bus.map(0x1e000, new Scratch(), { irq: 42, name: "a" });
  assert.throws(
    () => bus.read32(0x2000),
    (e: unknown) =>
      e instanceof MmioBusError && e.address === 0x2000 && /no mapped window/.test(e.message),
  );
  assert.throws(() => bus.read32(0x1e1fe), /crosses the end of a/);
  assert.throws(() => bus.read(0x1e000, 8 as AccessWidth), /not an access this bus carries/);
  assert.throws(() => bus.window(0x1e004), /No window/);
});

Deno.test("overlapping or misaligned windows are refused", () => {
  const bus = new MmioBus();
  bus.map(0x1e000, new Scratch(), { irq: 42, name: "a" });
  assert.throws(
    () => bus.map(0x1e100, new Scratch(), { irq: 43, name: "b" }),
    /overlaps a@0x1e000/,
  );
  assert.throws(() => bus.map(0x1f001, new Scratch(), { irq: 43, name: "c" }), /aligned/);
});

Deno.test("interrupts are level-triggered and delivered after the access, never inside it", async () => {
  const bus = new MmioBus();
  const region = new Scratch();
  bus.map(0x1e000, region, { irq: 42, name: "a" });
  const seen: string[] = [];
  bus.onInterrupt(42, () => {
    seen.push("handler");
    region.line!.set(false); // the handler acknowledges
  });
  region.line!.set(true);
  seen.push("after raise");
  await bus.idle();
  assert.deepEqual(seen, ["after raise", "handler"]);
  assert.equal(bus.interruptCount(42), 1);
  assert.equal(bus.interruptLevel(42), false);
});

Deno.test("a line that stays high is delivered again until it drops", async () => {
  const bus = new MmioBus();
  const region = new Scratch();
  bus.map(0x1e000, region, { irq: 42, name: "a" });
  let calls = 0;
  bus.onInterrupt(42, () => {
    if (++calls === 3) region.line!.set(false);
  });
  region.line!.set(true);
  while (bus.interruptLevel(42)) await bus.idle();
  assert.equal(calls, 3);
});

Deno.test("a handler that never acknowledges is reported and its line masked (4.2.3.4.1/3)", async () => {
  const log = new ConformanceLog();
  const bus = new MmioBus({ log, stormLimit: 50 });
  const region = new Scratch();
  bus.map(0x1e000, region, { irq: 42, name: "a" });
  let calls = 0;
  bus.onInterrupt(42, () => calls++);
  region.line!.set(true);
  await bus.idle();
  assert.equal(calls, 50);
  assert.equal(bus.interruptMasked(42), true);
  assert.deepEqual(log.entries.map((v) => v.id), ["4.2.3.4.1/3"]);
  region.line!.set(false);
  assert.equal(bus.interruptMasked(42), false);
});

Deno.test("a throwing handler is reported through onHandlerError and does not stop others", async () => {
  const errors: unknown[] = [];
  const bus = new MmioBus({ onHandlerError: (e) => errors.push(e) });
  const region = new Scratch();
  bus.map(0x1e000, region, { irq: 42, name: "a" });
  let second = 0;
  bus.onInterrupt(42, () => {
    throw new Error("boom");
  });
  bus.onInterrupt(42, () => {
    second++;
    region.line!.set(false);
  });
  region.line!.set(true);
  await bus.idle();
  assert.equal(second, 1);
  assert.equal(errors.length, 1);
});

Deno.test("the device tree describes each window as §4.2.1 suggests", () => {
  const bus = new MmioBus();
  bus.map(0x1e000, new Scratch(), { irq: 42, name: "virtio_block" });
  assert.deepEqual(bus.deviceTree(), [{
    node: "virtio_block@1e000",
    compatible: "virtio,mmio",
    reg: [0x1e000, 0x200],
    interrupts: [42],
  }]);
  assert.equal(
    bus.dts(),
    'virtio_block@1e000 {\n\tcompatible = "virtio,mmio";\n\treg = <0x1e000 0x200>;\n\tinterrupts = <42>;\n};',
  );
});
