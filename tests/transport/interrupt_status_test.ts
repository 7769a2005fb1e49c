import assert from "node:assert/strict";
import fc from "fast-check";
import { acknowledgeInterrupt, raiseInterrupt } from "../../transport/interrupt_status.ts";
import {
  VIRTIO_MMIO_INT_CONFIG as CONFIG,
  VIRTIO_MMIO_INT_VRING as VRING,
} from "../../transport/mmio_registers.ts";

const LIVE = 0x0f; // ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK
const BEFORE_DRIVER_OK = 0x0b;

Deno.test("raiseInterrupt sets the event's bit and keeps the others (4.2.2.1/3)", () => {
  assert.deepEqual(raiseInterrupt(0, VRING, LIVE), { interruptStatus: VRING, sent: true });
  assert.deepEqual(raiseInterrupt(VRING, CONFIG, LIVE), {
    interruptStatus: VRING | CONFIG,
    sent: true,
  });
  assert.deepEqual(raiseInterrupt(VRING, VRING, LIVE), { interruptStatus: VRING, sent: true });
});

Deno.test("raiseInterrupt sends nothing before DRIVER_OK (2.1.2/1)", () => {
  for (const event of [VRING, CONFIG]) {
    assert.deepEqual(raiseInterrupt(0, event, BEFORE_DRIVER_OK), {
      interruptStatus: 0,
      sent: false,
    });
    assert.deepEqual(raiseInterrupt(0, event, 0), { interruptStatus: 0, sent: false });
  }
});

Deno.test("raiseInterrupt never sets a bit no event defines (4.2.2.1/4)", () => {
  assert.deepEqual(raiseInterrupt(0, 0x4, LIVE), { interruptStatus: 0, sent: false });
  assert.deepEqual(raiseInterrupt(0, 0xffff_ffff, LIVE), { interruptStatus: 0b11, sent: true });
  assert.equal(raiseInterrupt(0x100, VRING, LIVE).interruptStatus, VRING);
});

Deno.test("acknowledgeInterrupt clears exactly the acknowledged bits", () => {
  assert.deepEqual(acknowledgeInterrupt(0b11, VRING), { interruptStatus: CONFIG, problem: null });
  assert.deepEqual(acknowledgeInterrupt(0b11, 0b11), { interruptStatus: 0, problem: null });
  assert.deepEqual(acknowledgeInterrupt(CONFIG, VRING), { interruptStatus: CONFIG, problem: null });
  assert.deepEqual(acknowledgeInterrupt(0b11, 0), { interruptStatus: 0b11, problem: null });
});

Deno.test("acknowledgeInterrupt reports undefined bits (4.2.2.2/13) and ignores them", () => {
  const ack = acknowledgeInterrupt(0b11, 0x8000_0101);
  assert.equal(ack.interruptStatus, CONFIG);
  assert.equal(ack.problem?.id, "4.2.2.2/13");
  assert.equal(ack.problem?.action, "undefined bits ignored");
  assert.match(ack.problem!.message, /0x80000100/);
});

Deno.test("InterruptStatus under any sequence of events and acknowledgements: a bit is set exactly from its event to its ACK", () => {
  const op = fc.oneof(
    fc.record({
      raise: fc.constantFrom(VRING, CONFIG, 0x4, 0x3),
      status: fc.constantFrom(LIVE, BEFORE_DRIVER_OK),
    }),
    fc.record({ ack: fc.integer({ min: 0, max: 0xffff_ffff }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      let status = 0;
      const pending = { [VRING]: false, [CONFIG]: false };
      for (const o of ops) {
        if ("raise" in o) {
          const r = raiseInterrupt(status, o.raise, o.status);
          status = r.interruptStatus;
          const live = o.status === LIVE;
          for (const bit of [VRING, CONFIG]) if (live && (o.raise & bit)) pending[bit] = true;
          assert.equal(r.sent, live && (o.raise & 0b11) !== 0);
        } else {
          status = acknowledgeInterrupt(status, o.ack).interruptStatus;
          for (const bit of [VRING, CONFIG]) if (o.ack & bit) pending[bit] = false;
        }
        assert.equal(status & ~0b11, 0);
        assert.equal((status & VRING) !== 0, pending[VRING]);
        assert.equal((status & CONFIG) !== 0, pending[CONFIG]);
      }
    }),
    { seed: 0x5eed, numRuns: 500 },
  );
});
