import assert from "node:assert/strict";
import {
  INITIAL_QUEUE_REGISTERS,
  join64,
  type QueueAreaContext,
  queueAreaProblem,
  queueAreas,
  type QueueRegisters,
  type QueueRegisterWrite,
  resetQueue,
  writeQueueRegister,
} from "../../transport/queue_registers.ts";
import * as R from "../../transport/mmio_registers.ts";
import type { RuleProblem } from "../../transport/types.ts";

const RAM = Object.freeze({ base: 0x4000_0000, size: 0x10_0000 }); // 1 MiB at 1 GiB
const RAM_END = RAM.base + RAM.size;

/** A queue of `num` entries whose three areas sit at the given addresses (split into halves). */
function placed(num: number, desc: number, driver: number, device: number): QueueRegisters {
  const half = (a: number) => [a % 2 ** 32, Math.floor(a / 2 ** 32)];
  const [descLow, descHigh] = half(desc);
  const [driverLow, driverHigh] = half(driver);
  const [deviceLow, deviceHigh] = half(device);
  return Object.freeze({
    ...INITIAL_QUEUE_REGISTERS,
    num,
    descLow,
    descHigh,
    driverLow,
    driverHigh,
    deviceLow,
    deviceHigh,
  });
}

const context = (over: Partial<QueueAreaContext> = {}): QueueAreaContext => ({
  queue: 0,
  max: 256,
  ram: RAM,
  eventIdx: false,
  ...over,
});

const GOOD = placed(8, RAM.base + 0x1000, RAM.base + 0x2000, RAM.base + 0x3000);

// ----------------------------------------------------------- queueAreaProblem

Deno.test("queueAreas sizes the three parts as §2.7 does, with the event trailers only under EVENT_IDX", () => {
  for (const num of [1, 2, 8, 256, 32768]) {
    const registers = { ...INITIAL_QUEUE_REGISTERS, num };
    assert.deepEqual(
      queueAreas(registers, false).map((a) => [a.name, a.align, a.length]),
      [
        ["Descriptor Area", 16, 16 * num],
        ["Driver Area", 2, 4 + 2 * num],
        ["Device Area", 4, 4 + 8 * num],
      ],
    );
    // The spec's table sizes, 6 + 2n and 6 + 8n, already count used_event and avail_event.
    assert.deepEqual(queueAreas(registers, true).map((a) => a.length), [
      16 * num,
      6 + 2 * num,
      6 + 8 * num,
    ]);
  }
});

Deno.test("queueAreaProblem accepts a well-placed queue", () => {
  assert.equal(queueAreaProblem(GOOD, context()), null);
  assert.equal(queueAreaProblem(GOOD, context({ eventIdx: true })), null);
});

Deno.test("queueAreaProblem: QueueNum never written is 4.2.3.2/D1, or 2.6.1.2.2/1 after a queue reset", () => {
  const unset = { ...GOOD, num: 0 };
  assert.equal(queueAreaProblem(unset, context())?.id, "4.2.3.2/D1");
  assert.equal(queueAreaProblem({ ...unset, wasReset: true }, context())?.id, "2.6.1.2.2/1");
});

Deno.test("queueAreaProblem: a Queue Size that is not a power of two up to 32768 is 2.7/D1; above QueueNumMax 4.2.2.2/9", () => {
  for (const num of [3, 100, 65536, 2.5, -8]) {
    const found = queueAreaProblem({ ...GOOD, num }, context({ max: 1 << 20 }));
    assert.equal(found?.id, "2.7/D1", String(num));
  }
  const tooBig = queueAreaProblem({ ...GOOD, num: 16 }, context({ max: 8 }));
  assert.equal(tooBig?.id, "4.2.2.2/9");
  assert.deepEqual(tooBig?.values, { queue: 0, num: 16, max: 8 });
});

Deno.test("queueAreaProblem: each area on its own alignment, 16/2/4 (2.7.1/1)", () => {
  const cases: [QueueRegisters, string][] = [
    [placed(8, RAM.base + 0x1008, RAM.base + 0x2000, RAM.base + 0x3000), "Descriptor Area"],
    [placed(8, RAM.base + 0x1000, RAM.base + 0x2001, RAM.base + 0x3000), "Driver Area"],
    [placed(8, RAM.base + 0x1000, RAM.base + 0x2000, RAM.base + 0x3002), "Device Area"],
  ];
  for (const [registers, area] of cases) {
    const found = queueAreaProblem(registers, context());
    assert.equal(found?.id, "2.7.1/1", area);
    assert.match(found!.message, new RegExp(`^${area} of queue 0 at 0x[0-9a-f]+ is not`));
  }
  // The weakest legal alignments pass: 16, 2 and 4 bytes, not pages.
  assert.equal(
    queueAreaProblem(placed(8, RAM.base + 0x1010, RAM.base + 0x2002, RAM.base + 0x3004), context()),
    null,
  );
});

Deno.test("queueAreaProblem: an area ending on RAM's last byte is accepted, one byte more is not (2.7.5/D2)", () => {
  // 8 descriptors: used ring 68 bytes without EVENT_IDX, 70 with avail_event.
  const endsAtRamEnd = placed(8, RAM.base, RAM.base + 0x1000, RAM_END - 68);
  assert.equal(queueAreaProblem(endsAtRamEnd, context()), null);
  const found = queueAreaProblem(endsAtRamEnd, context({ eventIdx: true }));
  assert.equal(found?.id, "2.7.5/D2", "with avail_event the used ring is 2 bytes longer");
  assert.equal(found?.values.length, 70);
  const withTrailer = placed(8, RAM.base, RAM.base + 0x1000, RAM_END - 72);
  assert.equal(queueAreaProblem(withTrailer, context({ eventIdx: true })), null);

  // The descriptor table on the last 128 bytes, then 16 bytes later.
  assert.equal(
    queueAreaProblem(placed(8, RAM_END - 128, RAM.base, RAM.base + 0x100), context()),
    null,
  );
  assert.equal(
    queueAreaProblem(placed(8, RAM_END - 112, RAM.base, RAM.base + 0x100), context())?.id,
    "2.7.5/D2",
  );
  // The available ring (20 bytes) ending on the last byte, then 2 bytes later (its alignment).
  assert.equal(
    queueAreaProblem(placed(8, RAM.base, RAM_END - 20, RAM.base + 0x100), context()),
    null,
  );
  assert.equal(
    queueAreaProblem(placed(8, RAM.base, RAM_END - 18, RAM.base + 0x100), context())?.id,
    "2.7.5/D2",
  );
  // Starting one area below RAM.
  assert.equal(
    queueAreaProblem(placed(8, RAM.base - 16, RAM.base + 0x1000, RAM.base + 0x2000), context())?.id,
    "2.7.5/D2",
  );
});

Deno.test("queueAreaProblem: 64-bit addresses are exact, above 2^53 and across 2^64", () => {
  // Above 2^53 a double cannot hold the address: 2^54 + 2^30 + 2 would round
  // to an aligned value. The check sees the real, misaligned address.
  const high = { ...GOOD, descLow: 0x4000_0002, descHigh: 0x0040_0000 };
  const misaligned = queueAreaProblem(high, context());
  assert.equal(misaligned?.id, "2.7.1/1");
  assert.equal(misaligned?.values.address, "0x40000040000002");

  // An aligned area far above RAM, in RAM's image modulo 2^32 or 2^53.
  for (const descHigh of [1, 0x20_0000, 0x8000_0000]) {
    const found = queueAreaProblem({ ...GOOD, descHigh }, context());
    assert.equal(found?.id, "2.7.5/D2", `high word ${descHigh}`);
    assert.equal(found?.values.address, `0x${join64(GOOD.descLow, descHigh).toString(16)}`);
  }

  // With RAM at 0, an area starting 16 bytes below 2^64 would end at 112 in
  // wrapping 64-bit arithmetic, inside RAM. It is refused.
  const ramAtZero = { base: 0, size: 0x10_0000 };
  const wraps = { ...placed(8, 0, 0x1000, 0x2000), descLow: 0xffff_fff0, descHigh: 0xffff_ffff };
  assert.equal(queueAreaProblem(wraps, context({ ram: ramAtZero }))?.id, "2.7.5/D2");
});

Deno.test("queueAreaProblem: RAM above 4 GiB takes areas whose high words are set", () => {
  const ram = { base: 0x1_0000_0000, size: 0x10_0000 };
  const registers = placed(16, 0x1_0000_0000, 0x1_0000_1000, 0x1_0000_2000);
  assert.equal(registers.descHigh, 1);
  assert.equal(queueAreaProblem(registers, context({ ram })), null);
  // The same low words with the high words dropped point below RAM.
  assert.equal(
    queueAreaProblem({ ...registers, descHigh: 0, driverHigh: 0, deviceHigh: 0 }, context({ ram }))
      ?.id,
    "2.7.5/D2",
  );
});

Deno.test("queueAreaProblem: areas that overlap are 2.7/D2; areas that touch are not", () => {
  // 8 descriptors: table 128 bytes, available ring 20 (22 with used_event), used ring 68 (70).
  const base = RAM.base + 0x1000;
  const touching = placed(8, base, base + 128, base + 128 + 20);
  assert.equal(queueAreaProblem(touching, context()), null);
  // With EVENT_IDX the available ring is 22 bytes: its used_event lands on the used ring.
  const trailer = queueAreaProblem(touching, context({ eventIdx: true }));
  assert.equal(trailer?.id, "2.7/D2");
  assert.match(
    trailer!.message,
    /^Driver Area of queue 0 \(22 bytes at 0x[0-9a-f]+\) overlaps its Device Area/,
  );
  assert.deepEqual(trailer?.values, {
    queue: 0,
    driverArea: `0x${(base + 128).toString(16)}`,
    deviceArea: `0x${(base + 148).toString(16)}`,
  });
  // An available ring sized without its ring[] (NetBSD PR kern/57304): the used ring follows 6 bytes on.
  assert.equal(queueAreaProblem(placed(8, base, base + 128, base + 136), context())?.id, "2.7/D2");
  // The same address for all three, and a used ring inside the descriptor table.
  assert.equal(queueAreaProblem(placed(8, base, base, base), context())?.id, "2.7/D2");
  assert.equal(
    queueAreaProblem(placed(8, base, base + 0x400, base + 64), context())?.id,
    "2.7/D2",
  );
  // In any order, apart: fine.
  assert.equal(queueAreaProblem(placed(8, base + 0x400, base + 0x200, base), context()), null);
});

// ---------------------------------------------------------- writeQueueRegister

const write = (offset: number, value: number, over: Partial<QueueRegisterWrite> = {}) => ({
  queue: 0,
  offset,
  value,
  max: 256,
  ringReset: true,
  ...over,
});
const accept = () => null;
const ids = (problems: readonly RuleProblem[]) => problems.map((p) => p.id);

Deno.test("writeQueueRegister stores QueueNum when it is a Queue Size no larger than QueueNumMax", () => {
  const outcome = writeQueueRegister(
    INITIAL_QUEUE_REGISTERS,
    write(R.VIRTIO_MMIO_QUEUE_NUM, 64),
    accept,
  );
  assert.equal(outcome.registers.num, 64);
  assert.deepEqual(outcome.problems, []);
  assert.deepEqual(
    [outcome.enabled, outcome.stopped, outcome.reset],
    [false, false, false],
  );
  assert.equal(INITIAL_QUEUE_REGISTERS.num, 0, "the input record is not changed");
});

Deno.test("writeQueueRegister ignores QueueNum above QueueNumMax (4.2.2.2/9) or not a power of two (2.7/D1)", () => {
  const start = Object.freeze({ ...INITIAL_QUEUE_REGISTERS, num: 8 });
  for (
    const [value, id] of [[512, "4.2.2.2/9"], [100, "2.7/D1"], [0, "2.7/D1"], [
      96,
      "2.7/D1",
    ]] as const
  ) {
    const outcome = writeQueueRegister(start, write(R.VIRTIO_MMIO_QUEUE_NUM, value), accept);
    assert.deepEqual(ids(outcome.problems), [id], String(value));
    assert.equal(outcome.problems[0].action, "write ignored");
    assert.equal(outcome.registers, start, "nothing changed");
  }
  const huge = writeQueueRegister(
    start,
    write(R.VIRTIO_MMIO_QUEUE_NUM, 65536, { max: 65536 }),
    accept,
  );
  assert.deepEqual(ids(huge.problems), ["2.7/D1"], "65536 is above the largest Queue Size");
});

Deno.test("writeQueueRegister writes each address half to its own field, full u32 values", () => {
  const fields: [number, keyof QueueRegisters][] = [
    [R.VIRTIO_MMIO_QUEUE_DESC_LOW, "descLow"],
    [R.VIRTIO_MMIO_QUEUE_DESC_HIGH, "descHigh"],
    [R.VIRTIO_MMIO_QUEUE_AVAIL_LOW, "driverLow"],
    [R.VIRTIO_MMIO_QUEUE_AVAIL_HIGH, "driverHigh"],
    [R.VIRTIO_MMIO_QUEUE_USED_LOW, "deviceLow"],
    [R.VIRTIO_MMIO_QUEUE_USED_HIGH, "deviceHigh"],
  ];
  let registers: QueueRegisters = INITIAL_QUEUE_REGISTERS;
  fields.forEach(([offset], i) => {
    registers = writeQueueRegister(registers, write(offset, 0xffff_fff0 + i), accept).registers;
  });
  fields.forEach(([, field], i) => assert.equal(registers[field], 0xffff_fff0 + i, field));
});

Deno.test("writeQueueRegister leaves a ready queue's size and addresses alone (4.2.2.2/10)", () => {
  const ready = Object.freeze({ ...GOOD, ready: true });
  for (
    const offset of [
      R.VIRTIO_MMIO_QUEUE_NUM,
      R.VIRTIO_MMIO_QUEUE_DESC_LOW,
      R.VIRTIO_MMIO_QUEUE_USED_HIGH,
    ]
  ) {
    const outcome = writeQueueRegister(ready, write(offset, 4), accept);
    assert.deepEqual(ids(outcome.problems), ["4.2.2.2/10"]);
    assert.equal(outcome.problems[0].action, "write ignored");
    assert.equal(outcome.registers, ready);
  }
});

Deno.test("writeQueueRegister: QueueReady 1 asks the area check, and enables only what it accepts", () => {
  const seen: QueueRegisters[] = [];
  const refuse = (r: QueueRegisters): RuleProblem => (seen.push(r), {
    id: "2.7.1/1",
    message: "Descriptor Area of queue 0 at 0x40001008 is not 16-byte aligned",
    values: { queue: 0 },
  });
  const refused = writeQueueRegister(GOOD, write(R.VIRTIO_MMIO_QUEUE_READY, 1), refuse);
  assert.deepEqual(seen, [GOOD]);
  assert.deepEqual(ids(refused.problems), ["2.7.1/1"]);
  assert.equal(refused.problems[0].action, "QueueReady stays 0");
  assert.equal(refused.registers.ready, false);
  assert.equal(refused.enabled, false);

  const enabled = writeQueueRegister(
    { ...GOOD, wasReset: true },
    write(R.VIRTIO_MMIO_QUEUE_READY, 1),
    accept,
  );
  assert.equal(enabled.registers.ready, true);
  assert.equal(enabled.registers.wasReset, false, "a re-enabled queue is not 'reset' any more");
  assert.equal(enabled.enabled, true);
  assert.deepEqual(enabled.problems, []);

  let asked = 0;
  const again = writeQueueRegister(enabled.registers, write(R.VIRTIO_MMIO_QUEUE_READY, 1), () => {
    asked++;
    return null;
  });
  assert.equal(asked, 0, "an already ready queue is not checked again");
  assert.equal(again.enabled, false);
  assert.equal(again.registers, enabled.registers);
});

Deno.test("writeQueueRegister: QueueReady 0 stops a ready queue; reuse before reading it back breaks 4.2.2.2/11 once", () => {
  const ready = Object.freeze({ ...GOOD, ready: true });
  const stop = writeQueueRegister(ready, write(R.VIRTIO_MMIO_QUEUE_READY, 0), accept);
  assert.equal(stop.stopped, true);
  assert.equal(stop.registers.ready, false);
  assert.equal(stop.registers.stopUnconfirmed, true);
  assert.deepEqual(stop.problems, []);
  assert.equal(stop.registers.num, 8, "a stopped queue keeps its settings");

  const reuse = writeQueueRegister(stop.registers, write(R.VIRTIO_MMIO_QUEUE_NUM, 4), accept);
  assert.deepEqual(ids(reuse.problems), ["4.2.2.2/11"]);
  assert.equal(reuse.problems[0].action, undefined, "reported, and the write still applies");
  assert.equal(reuse.registers.num, 4);
  assert.equal(reuse.registers.stopUnconfirmed, false);
  const next = writeQueueRegister(reuse.registers, write(R.VIRTIO_MMIO_QUEUE_NUM, 2), accept);
  assert.deepEqual(next.problems, [], "reported once");

  const idle = writeQueueRegister(GOOD, write(R.VIRTIO_MMIO_QUEUE_READY, 0), accept);
  assert.equal(idle.stopped, false, "a queue that was not ready was not in use");
  assert.equal(idle.registers.stopUnconfirmed, true);
});

Deno.test("writeQueueRegister: the area check sees the registers with the read-back lapse already reported", () => {
  const stopped = Object.freeze({ ...GOOD, stopUnconfirmed: true });
  let checked: QueueRegisters | null = null;
  const outcome = writeQueueRegister(stopped, write(R.VIRTIO_MMIO_QUEUE_READY, 1), (r) => {
    checked = r;
    return null;
  });
  assert.deepEqual(ids(outcome.problems), ["4.2.2.2/11"]);
  assert.equal(checked!.stopUnconfirmed, false);
  assert.equal(outcome.registers.ready, true);
});

Deno.test("resetQueue: QueueReset with VIRTIO_F_RING_RESET resets the queue; using it before reading QueueReset back breaks 4.2.2.2/14", () => {
  const ready = Object.freeze({ ...GOOD, ready: true });
  const reset = resetQueue(ready, { queue: 0, value: 1, ringReset: true });
  assert.equal(reset.reset, true);
  assert.equal(reset.stopped, true);
  assert.equal(reset.enabled, false);
  assert.deepEqual(reset.problems, []);
  assert.deepEqual(reset.registers, {
    ...INITIAL_QUEUE_REGISTERS,
    resetUnconfirmed: true,
    wasReset: true,
  });
  // A queue that was not in use is reset too, but nothing was stopped.
  const idle = resetQueue(GOOD, { queue: 0, value: 1, ringReset: true });
  assert.deepEqual([idle.reset, idle.stopped], [true, false]);
  const early = writeQueueRegister(reset.registers, write(R.VIRTIO_MMIO_QUEUE_NUM, 8), accept);
  assert.deepEqual(ids(early.problems), ["4.2.2.2/14"]);
  assert.equal(early.registers.num, 8);

  for (
    const [value, ringReset] of [[1, false], [2, true], [0, true], [0xffff_ffff, true]] as const
  ) {
    const none = resetQueue(ready, { queue: 0, value, ringReset });
    assert.equal(none.reset, false, `value ${value}, ringReset ${ringReset}`);
    assert.equal(none.stopped, false);
    assert.equal(none.registers, ready);
  }
});

Deno.test("writeQueueRegister leaves QueueReset to resetQueue", () => {
  assert.throws(
    () => writeQueueRegister(GOOD, write(R.VIRTIO_MMIO_QUEUE_RESET, 1), accept),
    (e: unknown) => e instanceof RangeError && /0x0c0/.test(e.message),
  );
});

Deno.test("writeQueueRegister refuses offsets that are not queue registers", () => {
  assert.throws(
    () => writeQueueRegister(GOOD, write(R.VIRTIO_MMIO_QUEUE_SEL, 1), accept),
    (e: unknown) => e instanceof RangeError && /0x030/.test(e.message),
  );
});
