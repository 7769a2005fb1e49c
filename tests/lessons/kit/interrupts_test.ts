// Tests for lessons/kit/interrupts.ts: the reference interrupt handler
// survives every spurious interrupt (2.7.7.1/3), disregarding undefined bits
// (4.2.2.2/12) and acknowledging exactly the defined bits it read
// (4.2.2.2/13); handlers that acknowledge what they should not, or read the
// status as a signed number, are caught; a running machine's driver counts
// an interrupt with nothing pending as spurious.

import assert from "node:assert/strict";
import { ConformanceError } from "../../../conformance/log.ts";
import { handleInterrupt, type InterruptHandlers } from "../../../transport/driver_interrupt.ts";
import {
  VIRTIO_MMIO_INT_MASK,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
} from "../../../transport/mmio_registers.ts";
import type { RegisterWindow } from "../../../transport/types.ts";
import { createMachine } from "../../../machine.ts";
import { deviceFixture } from "../../../lessons/kit/mmio.ts";
import {
  interruptInjector,
  SPURIOUS_INTERRUPTS,
  spuriousMachineInterrupt,
} from "../../../lessons/kit/interrupts.ts";

type Handler = (window: RegisterWindow, handlers: InterruptHandlers) => unknown;

function run(handler: Handler, bits: number) {
  const fixture = deviceFixture(); // a real register file with nothing pending, strict log
  const injector = interruptInjector(fixture.raw);
  injector.inject(bits);
  const calls: string[] = [];
  let threw: unknown;
  try {
    handler(injector.window, {
      configChanged: () => void calls.push("config"),
      usedBuffers: () => void calls.push("used"),
    });
  } catch (e) {
    threw = e;
  }
  return { injector, calls, threw, log: fixture.log };
}

for (const c of SPURIOUS_INTERRUPTS) {
  Deno.test(`the reference handler on ${c.name}: acknowledges ${c.ack === 0 ? "nothing" : `0x${c.ack.toString(16)}`} (${c.rule})`, () => {
    const { injector, calls, threw, log } = run(handleInterrupt, c.bits);
    assert.equal(threw, undefined);
    assert.deepEqual(injector.acks, c.ack === 0 ? [] : [c.ack]);
    assert.deepEqual(injector.statusReads, [c.bits >>> 0]);
    assert.equal(
      injector.pending,
      (c.bits & ~c.ack) >>> 0,
      "undefined bits are never acknowledged",
    );
    assert.deepEqual(calls, [
      ...(c.ack & 2 ? ["config"] : []),
      ...(c.ack & 1 ? ["used"] : []),
    ]);
    assert.equal(log.entries.length, 0, log.format());
  });
}

Deno.test("a handler that acknowledges the whole status it read is refused by the device (4.2.2.2/13)", () => {
  const ackAll: Handler = (window, handlers) => {
    const status = window.read32(VIRTIO_MMIO_INTERRUPT_STATUS);
    window.write32(VIRTIO_MMIO_INTERRUPT_ACK, status);
    if (status & 1) handlers.usedBuffers();
  };
  const undefinedBit = SPURIOUS_INTERRUPTS.find((c) => c.rule === "4.2.2.2/13")!;
  const { injector, threw } = run(ackAll, undefinedBit.bits);
  assert.ok(threw instanceof ConformanceError);
  assert.equal(threw.violation.id, "4.2.2.2/13");
  assert.notDeepEqual(injector.acks, [undefinedBit.ack]);
});

Deno.test("a handler that reads InterruptStatus as a signed number misses the events with bit 31 set", () => {
  const signed: Handler = (window, handlers) => {
    const status = window.read32(VIRTIO_MMIO_INTERRUPT_STATUS) | 0;
    if (status <= 0) return; // "nothing pending"
    window.write32(VIRTIO_MMIO_INTERRUPT_ACK, status & VIRTIO_MMIO_INT_MASK);
    if (status & 1) handlers.usedBuffers();
  };
  const all = SPURIOUS_INTERRUPTS.find((c) => c.bits === 0xffff_ffff)!;
  const { injector, calls } = run(signed, all.bits);
  assert.deepEqual(injector.acks, [], "expected the acknowledgement 0x3");
  assert.deepEqual(calls, []);
  assert.equal(all.ack, 3);
});

Deno.test("the injector passes every other access through and keeps a bit until it is acknowledged", () => {
  const fixture = deviceFixture();
  const injector = interruptInjector(fixture.raw);
  assert.equal(injector.window.read32(0x000), 0x74726976, "MagicValue, from the device");
  injector.inject(1);
  injector.inject(2);
  assert.equal(injector.window.read32(VIRTIO_MMIO_INTERRUPT_STATUS), 3);
  injector.window.write32(VIRTIO_MMIO_INTERRUPT_ACK, 1);
  assert.equal(injector.pending, 2);
  assert.equal(injector.window.read32(VIRTIO_MMIO_INTERRUPT_STATUS), 2);
  assert.deepEqual(injector.acks, [1]);
  assert.equal(fixture.log.entries.length, 0);
});

Deno.test("a running machine's driver counts an interrupt with nothing pending as spurious", async () => {
  const machine = await createMachine({ strict: true });
  try {
    await machine.idle();
    for (const device of [machine.blk, machine.console]) {
      const result = spuriousMachineInterrupt(device);
      assert.equal(result.pendingBefore, 0);
      assert.equal(result.counted, true);
      assert.ok(!("threw" in result));
    }
    assert.equal(machine.log.entries.length, 0, machine.log.format());
  } finally {
    await machine.close();
  }
});
