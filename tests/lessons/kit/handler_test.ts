// Tests for the interrupt handler harness of lessons/kit/interrupts.ts
// (HANDLER_CASES, runHandler, handlerSubject) and expectQuietMachine: the
// reference handler acknowledges what it read before handling it, so an
// event raised meanwhile stays pending; one that acknowledges afterwards
// loses it; a quiet machine passes, one whose handler never acknowledges
// fails citing 4.2.3.4.1/3.

import assert from "node:assert/strict";
import { GradeFailure } from "../../../course/grader.ts";
import { handleInterrupt } from "../../../transport/driver_interrupt.ts";
import type { InterruptHandlerPart } from "../../../lessons/kit/interrupts.ts";
import {
  expectQuietMachine,
  HANDLER_CASES,
  handlerSubject,
  runHandler,
} from "../../../lessons/kit/interrupts.ts";
import { createMachine } from "../../../machine.ts";
import { every, ruleFor } from "../../../lessons/kit/rules.ts";
import { failed, gradeRows } from "./_grade.ts";

for (const c of HANDLER_CASES) {
  Deno.test(`the reference handler on ${c.name}`, () => {
    const run = runHandler(handleInterrupt, c);
    assert.equal(run.trace[0], `read InterruptStatus (0x060) = ${run.trace[0].split(" = ")[1]}`);
    assert.equal(run.ackedFirst, c.bits & 3);
    assert.deepEqual(run.lateAcks, []);
    assert.equal(run.pending, ((c.bits & ~3) | (c.during?.raise ?? 0)) >>> 0);
    const expected = [
      ...(c.bits & 2 ? ["configChanged()"] : []),
      ...(c.bits & 1 ? ["usedBuffers()"] : []),
    ];
    assert.deepEqual(run.calls, expected.sort());
    assert.deepEqual(run.result, { status: c.bits >>> 0, acknowledged: c.bits & 3 });
  });
}

const late: InterruptHandlerPart = (window, handlers) => {
  const status = window.read32(0x060) >>> 0;
  if (status & 2) handlers.configChanged();
  if (status & 1) handlers.usedBuffers();
  window.write32(0x064, status & 3);
  return { status, acknowledged: status & 3 };
};

Deno.test("a handler that acknowledges after handling loses the event raised meanwhile", () => {
  const c = HANDLER_CASES.find((c) => c.during?.handler === "usedBuffers" && c.bits === 1)!;
  const run = runHandler(late, c);
  assert.equal(run.pending, 0, "the second used buffer bit was cleared unseen");
  assert.equal(run.ackedFirst, 0);
  assert.deepEqual(run.lateAcks, [1]);
});

Deno.test("handlerSubject rows compare with the reference and show what the handler did", async () => {
  interface Impl {
    readonly handle: InterruptHandlerPart;
  }
  const row = ruleFor(handlerSubject<Impl>((impl) => impl.handle, handleInterrupt), {
    cases: every(HANDLER_CASES.filter((c) => c.during).map((c) => [c] as [typeof c])),
    hint: 1,
  });
  const checks = [row({
    name: "an event raised meanwhile stays pending",
    requirement: "4.2.3.4.1/3",
    verdict: (r) => r.pending,
    why: "the bit still set",
  })];
  assert.equal(failed(await gradeRows(checks, { handle: handleInterrupt })).size, 0);
  const failure = failed(await gradeRows(checks, { handle: late })).get(checks[0].name)!;
  assert.match(
    failure.message,
    /did read InterruptStatus \(0x060\) = 0x1 \(used buffer\), usedBuffers\(\), write InterruptACK \(0x064\) = 0x1/,
  );
});

Deno.test("expectQuietMachine passes a machine after its traffic, and fails one whose handler never acknowledges", async () => {
  const good = await createMachine({ strict: true });
  try {
    await good.blk.driver!.read(0, 8);
    await expectQuietMachine(good);
  } finally {
    await good.close();
  }
  const neverAcks: InterruptHandlerPart = (window, handlers) => {
    const status = window.read32(0x060) >>> 0;
    if (status & 1) handlers.usedBuffers();
    return { status, acknowledged: 0 };
  };
  const deaf = await createMachine({
    parts: { transport: { driver: { handleInterrupt: neverAcks } } },
  });
  try {
    await deaf.blk.driver!.read(0, 8);
    const error = await expectQuietMachine(deaf).then(() => null, (e) => e);
    assert.ok(error instanceof GradeFailure);
    assert.equal(error.requirement, "4.2.3.4.1/3");
  } finally {
    await deaf.close();
  }
});
