// The legacy kit: every write case of each rule is what its rule says on the
// reference register file, the reference setup follows §4.2.4 on every
// register file the kit builds, and the order and stop helpers see a wrong
// step for what it is.

import assert from "node:assert/strict";
import {
  LEGACY_DEVICES,
  LEGACY_QUEUE_STATES,
  LEGACY_QUEUE_WRITES,
  legacyOutcomeShape,
  legacyQueueSetupOrder,
  runLegacySetup,
  runLegacyStop,
  runNegotiation,
  runProbe,
  runSlowLegacyStop,
} from "../../../lessons/kit/legacy.ts";
import { writeLegacyQueueRegister } from "../../../transport/legacy_registers.ts";
import { queueAreaProblem } from "../../../transport/queue_registers.ts";
import {
  negotiateLegacyFeatures,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
} from "../../../transport/driver_legacy.ts";
import { MACHINE_RAM_BASE } from "../../../machine.ts";

const ram = { base: MACHINE_RAM_BASE, size: 1 << 20 };

Deno.test("each write case does what its rule says on the reference register file", () => {
  const expected: Record<string, (ids: string[], enabled: boolean, stopped: boolean) => boolean> = {
    store: (ids, enabled) => ids.length === 0 && !enabled,
    busy: (ids) => ids.join() === "4.2.4/D3",
    page: (ids, enabled) => ids.join() === "4.2.4/D1" && !enabled,
    num: (ids, enabled) => ["4.2.4/D2", "2.7/D1", "4.2.2.2/9"].includes(ids.join()) && !enabled,
    place: (ids, enabled) => ids.length === 0 && enabled,
    ram: (ids, enabled) =>
      (ids.length === 0 && enabled) || (["2.7.5/D2", "2.7.1/1"].includes(ids.join()) && !enabled),
    stop: (ids, enabled) => ids.length === 0 && !enabled,
  };
  const rules = new Set<string>();
  for (const [rule, from, offset, value, page] of LEGACY_QUEUE_WRITES) {
    rules.add(rule);
    const o = writeLegacyQueueRegister(
      LEGACY_QUEUE_STATES[from],
      { queue: 0, offset, value, max: 256, guestPageSize: page },
      (r) => queueAreaProblem(r, { queue: 0, max: 256, ram, eventIdx: true }),
    );
    assert.equal(legacyOutcomeShape(o), undefined);
    const ids = o.problems.map((p) => p.id);
    assert.ok(
      expected[rule](ids, o.enabled, o.stopped),
      `${rule} ${from} ${offset} ${value}: ${ids}`,
    );
  }
  assert.deepEqual([...rules].sort(), Object.keys(expected).sort(), "every rule has cases");
  // The ram cases hold both sides of the edge: one accepted, the others refused.
  const ramOutcomes = LEGACY_QUEUE_WRITES.filter((c) => c[0] === "ram").map(([, from, o, v, p]) =>
    writeLegacyQueueRegister(
      LEGACY_QUEUE_STATES[from],
      { queue: 0, offset: o, value: v, max: 256, guestPageSize: p },
      (r) => queueAreaProblem(r, { queue: 0, max: 256, ram, eventIdx: true }),
    ).enabled
  );
  assert.deepEqual(ramOutcomes, [true, false, false, false, false]);
  assert.match(String(legacyOutcomeShape({ registers: {} })), /registers/);
});

Deno.test("the reference setup follows §4.2.4 on every register file, and fails as its contract says", () => {
  const want: Record<string, string | null> = {
    block: null,
    console: null,
    max100: null,
    inUse: "QueuePFN",
    noRoom: "allocation",
    refusing: "QueuePFN read-back",
  };
  for (const name of Object.keys(LEGACY_DEVICES)) {
    const run = runLegacySetup(setupLegacyQueue, name, name === "console" ? 1 : 0, {});
    assert.equal(run.error?.step ?? null, want[name], name);
    assert.equal(run.left, run.error ? 0 : 1, `${name}: allocations left`);
    if (!run.error) {
      assert.deepEqual(Object.values(run.order), [true, true, true, true, true, true], name);
      assert.deepEqual(run.device?.areas, [
        run.returned!.descAddr,
        run.returned!.availAddr,
        run.returned!.usedAddr,
      ]);
      assert.ok(run.region?.zeroed && run.device?.inUse, name);
    }
  }
  assert.equal(runLegacySetup(setupLegacyQueue, "max100", 0, {}).returned?.size, 64);
});

Deno.test("legacyQueueSetupOrder sees a missing selector, a late GuestPageSize and no read-back", () => {
  const a = (kind: "read" | "write", offset: number, value = 0) => ({
    kind,
    offset,
    width: 4 as const,
    value,
    threw: false,
  });
  const order = legacyQueueSetupOrder([
    a("read", 0x034, 8),
    a("write", 0x030, 1),
    a("write", 0x038, 8),
    a("write", 0x040, 0x40010),
    a("write", 0x028, 4096),
  ], 1);
  assert.deepEqual(order, {
    selected: false,
    pageSizeFirst: false,
    inUseReadFirst: false,
    maxBeforeNum: true,
    configuredFirst: false,
    readBack: false,
  });
});

Deno.test("the stop, probe and negotiation runners observe the reference as its contract says", () => {
  assert.deepEqual(runLegacyStop(stopLegacyQueue, 1).inUse, [true, false]);
  assert.deepEqual(runSlowLegacyStop(stopLegacyQueue, 4), { outcome: {}, polls: 5 });
  const slow = runSlowLegacyStop(stopLegacyQueue, Infinity, 3);
  assert.deepEqual([slow.outcome.name, slow.outcome.register, slow.polls], [
    "QueueStopError",
    "QueuePFN",
    3,
  ]);
  const empty = runProbe(probeTransitionalWindow, 0x74726976, 1, 0, 5);
  assert.deepEqual(empty.found, { kind: "empty", reason: undefined });
  assert.equal(empty.accesses.length, 3);
  const negotiated = runNegotiation(
    negotiateLegacyFeatures,
    0x3000_0000,
    (1n << 32n) | 0x1000_0000n,
  );
  assert.equal(negotiated.returned, 0x1000_0000n);
  assert.equal(negotiated.accesses.length, 4);
});
