// Tests for callbackRace (lessons/kit/observer.ts) and callbackRaceCheck
// (lessons/kit/ring_checks.ts): the device returns a chain right after each
// of the driver's reads of the used idx while the driver turns used buffer
// notifications back on. The reference enableCallbacks and drainUsed strand
// nothing at any moment; an enableCallbacks that reads before it stores, and
// a reap loop without its last look, strand the entry (2.7.14/D1); a loop
// whose condition is inverted is stopped by the read budget; a loop that
// never turns notifications off is correct as far as this race goes.

import assert from "node:assert/strict";
import {
  REFERENCE_SPLIT_RING_DRIVER_PARTS as REF,
  type SplitRingDriverParts,
} from "../../../virtqueue/parts.ts";
import { VIRTQ_USED_IDX_OFFSET } from "../../../virtqueue/layout.ts";
import { ringFixture } from "../../../lessons/kit/ring.ts";
import { callbackRace } from "../../../lessons/kit/observer.ts";
import { callbackRaceCheck } from "../../../lessons/kit/ring_checks.ts";
import { failed, gradeRows } from "./_grade.ts";

type Parts = Partial<SplitRingDriverParts>;

/** A fixture whose device holds `held` chains and has returned `returned` more. */
function busy(parts: Parts, returned: number, held: number) {
  const f = ringFixture<number>({ size: 8, startIdx: 0xfffe, driver: parts });
  for (let k = 0; k < returned + held; k++) f.driverQueue.add([], [f.buffer(32)], k);
  f.driverQueue.kickPrepare();
  for (let c = f.deviceQueue.pop(); c !== null; c = f.deviceQueue.pop()) {
    if (f.device.inFlight > held) f.deviceQueue.push(c.head, 4);
  }
  return f;
}

const READ_FIRST: Parts = {
  enableCallbacks(ring) {
    const idle = ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET) === ring.lastUsed;
    REF.enableCallbacks(ring); // stores flags 0 (and reads again, ignored)
    return idle;
  },
};
const NO_LAST_LOOK: Parts = {
  drainUsed(queue, onUsed) {
    queue.disableCallbacks();
    for (let u = queue.getBuf(); u !== null; u = queue.getBuf()) onUsed(u);
    queue.enableCallbacks();
  },
};
const INVERTED: Parts = {
  drainUsed(queue, onUsed) {
    do {
      queue.disableCallbacks();
      for (let u = queue.getBuf(); u !== null; u = queue.getBuf()) onUsed(u);
    } while (queue.enableCallbacks());
  },
};
/** §2.7.14's loop, with its comparisons the right way round, over the ring record. */
const SPEC_LOOP: Parts = {
  drainUsed(queue, onUsed) {
    queue.disableCallbacks();
    for (;;) {
      const used = queue.getBuf();
      if (used !== null) {
        onUsed(used);
        continue;
      }
      if (queue.enableCallbacks()) return;
      queue.disableCallbacks();
    }
  },
};
const NEVER_OFF: Parts = {
  drainUsed(queue, onUsed) {
    for (let u = queue.getBuf(); u !== null; u = queue.getBuf()) onUsed(u);
  },
};

Deno.test("the reference strands nothing, whatever the moment the device returns its chain", () => {
  for (const [returned, held] of [[0, 1], [2, 1], [1, 3]]) {
    for (let at = 0; at < 12; at++) {
      for (const step of ["enable", "drain"] as const) {
        const f = busy({}, returned, held);
        if (step === "enable") f.driverQueue.disableCallbacks();
        const race = callbackRace(f, { at }).run(() => {
          if (step === "enable") return f.driverQueue.enableCallbacks();
          f.driverQueue.drainUsed(() => {});
          return true;
        });
        assert.equal(race.finding, null, `${step} at ${at}: ${race.finding?.message}`);
        if (race.returned) assert.ok(race.notified || !race.done || !race.stranded);
        assert.equal(f.log.entries.length, 0, f.log.format());
      }
    }
  }
});

Deno.test("an enableCallbacks that reads the used idx before storing the flags strands the entry", () => {
  const f = busy(READ_FIRST, 0, 1);
  f.driverQueue.disableCallbacks();
  const race = callbackRace(f, { at: 1 }).run(() => f.driverQueue.enableCallbacks());
  assert.equal(race.done, true);
  assert.equal(race.notified, false, "the device saw notifications still off");
  assert.equal(race.stranded, true);
  assert.equal(race.finding?.id, "2.7.14/D1");
  assert.match(race.finding!.message, /right after the driver's read #1 of the used idx/);
  assert.deepEqual(f.log.entries.map((v) => v.id), ["2.7.14/D1"]);
});

Deno.test("moment 0: an entry already waiting must be reported by enableCallbacks", () => {
  const ignoring: Parts = {
    enableCallbacks(ring) {
      REF.enableCallbacks(ring);
      return true;
    },
  };
  const f = busy(ignoring, 0, 1);
  f.driverQueue.disableCallbacks();
  const race = callbackRace(f, { at: 0 }).run(() => f.driverQueue.enableCallbacks());
  assert.equal(race.finding?.id, "2.7.14/D1");
  assert.match(race.finding!.message, /before the driver turned notifications back on/);
});

Deno.test("callbackRace needs a chain the device holds and a moment that is a count", () => {
  const idle = ringFixture();
  assert.throws(() => callbackRace(idle, { at: 0 }), RangeError);
  assert.throws(() => callbackRace(busy({}, 0, 1), { at: -1 }), RangeError);
});

const checks = () => [
  callbackRaceCheck<Parts>({ hint: 1, step: "enableCallbacks", parts: (p) => p }),
  callbackRaceCheck<Parts>({ hint: 1, step: "drainUsed", parts: (p) => p }),
];
const ENABLE_ROW = "no used buffer is stranded when notifications come back on";
const DRAIN_ROW = "no used buffer is stranded by the reap loop";

Deno.test("callbackRaceCheck passes the reference, §2.7.14's loop put right, and a loop that never turns notifications off", async () => {
  for (const parts of [{}, SPEC_LOOP, NEVER_OFF]) {
    const failures = failed(await gradeRows(checks(), parts));
    assert.deepEqual([...failures.values()].map((r) => r.message), []);
  }
});

for (
  const [mistake, parts, rows, message] of [
    ["reads before it stores", READ_FIRST, [ENABLE_ROW, DRAIN_ROW], /waits unreaped/],
    ["has no last look", NO_LAST_LOOK, [DRAIN_ROW], /read #1 of the used idx/],
    ["loops while nothing is pending", INVERTED, [DRAIN_ROW], /RunawayReadsError/],
  ] as const
) {
  Deno.test(`callbackRaceCheck fails a driver that ${mistake}`, async () => {
    const failures = failed(await gradeRows(checks(), parts));
    assert.deepEqual([...failures.keys()].sort(), [...rows].sort());
    for (const row of rows) {
      assert.equal(failures.get(row)!.requirement, "2.7.14/D1");
      assert.match(failures.get(row)!.message, message);
    }
  });
}
