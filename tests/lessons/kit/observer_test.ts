// Tests for lessons/kit/observer.ts and lessons/kit/ring_checks.ts. The library's ring halves keep the store
// order the barrier rules protect, which the concurrent observers show over
// long scenarios across the 16-bit wrap (2.7.13.3.1/1, 2.7.13.4.1/1,
// 2.7.8.2/1); halves that publish an index too early are caught at the store
// that came too late, and a driver that decides on a suppression field read
// before its idx store loses a notification.

import assert from "node:assert/strict";
import { ConformanceError } from "../../../conformance/log.ts";
import {
  REFERENCE_SPLIT_RING_DEVICE_PARTS as DEVICE,
  REFERENCE_SPLIT_RING_DRIVER_PARTS as DRIVER,
  type SplitRingDeviceParts,
  type SplitRingDriverParts,
} from "../../../virtqueue/parts.ts";
import { HEAD_PUBLISHED } from "../../../virtqueue/driver/ring.ts";
import { ringFixture } from "../../../lessons/kit/ring.ts";
import {
  notificationRace,
  observeDevice,
  observeDriver,
  reenableRace,
} from "../../../lessons/kit/observer.ts";
import {
  kickRaceCheck,
  reenableRaceCheck,
  ringScenario,
  storeOrderCheck,
} from "../../../lessons/kit/ring_checks.ts";
import { failed, gradeRows } from "./_grade.ts";

for (const eventIdx of [false, true]) {
  for (const indirect of [false, true]) {
    const label = `event idx ${eventIdx}, indirect ${indirect}`;

    Deno.test(`the reference driver half stores slots and descriptors before the idx that publishes them (2.7.13.3.1/1; ${label})`, () => {
      const f = ringFixture<number>({ size: 8, startIdx: 0xffe0, eventIdx, indirect });
      const observer = observeDriver(f);
      const posted = ringScenario(f, { during: observer.during, rounds: 60 });
      assert.equal(f.log.entries.length, 0, f.log.format());
      assert.deepEqual(observer.finish(), []);
      assert.equal(observer.taken, posted, "the concurrent device took every chain published");
      assert.ok(observer.observations > 10 * posted, `${observer.observations} observations`);
      assert.ok(f.driver.availIdx < 0xffe0, "the scenario crossed the 16-bit wrap");
      assert.equal(f.log.entries.length, 0);
    });

    Deno.test(`the reference device half writes each used element before the used idx (2.7.8.2/1; ${label})`, () => {
      const f = ringFixture<number>({ size: 8, startIdx: 0xffe0, eventIdx, indirect });
      const observer = observeDevice(f);
      ringScenario(f, { during: observer.during, watch: "device", rounds: 60 });
      assert.equal(f.log.entries.length, 0, f.log.format());
      assert.deepEqual(observer.finish(), []);
      assert.ok(observer.taken > 50, `${observer.taken} entries reaped concurrently`);
      assert.ok(f.device.usedIdx < 0xffe0, "the scenario crossed the 16-bit wrap");
    });

    Deno.test(`the reference driver half reads the suppression field only after its idx store (2.7.13.4.1/1; ${label})`, () => {
      const f = ringFixture<number>({ size: 8, startIdx: 0xfffe, eventIdx, indirect });
      for (let round = 0; round < 6; round++) {
        for (let k = 0; k <= round % 3; k++) f.driverQueue.add([], [f.buffer(64)], round);
        const race = notificationRace(f).run(() => f.driverQueue.kickPrepare());
        assert.equal(race.finding, null);
        assert.equal(race.read, true, "the driver looked at the device's wish");
        assert.equal(race.deviceSawChains, true);
        for (let c = f.deviceQueue.pop(); c !== null; c = f.deviceQueue.pop()) {
          f.deviceQueue.push(c.head, 0);
        }
        while (f.driverQueue.getBuf() !== null) { /* reap */ }
      }
      assert.equal(f.log.entries.length, 0, f.log.format());
    });
  }
}

// ----------------------------------------------------------- wrong drivers

/** Slots written only when publishing, after the idx store. */
const IDX_BEFORE_SLOT: Partial<SplitRingDriverParts> = {
  placeAvailEntry: (ring, head) => void (ring.pending[ring.added++] = head),
  publishAvail: (ring) => {
    const added = ring.added;
    if (added === 0) return 0;
    const idx = (ring.availIdx + added) & 0xffff;
    ring.memory.writeU16(ring.availAddr + 2, idx);
    for (let k = 0; k < added; k++) {
      ring.memory.writeU16(
        ring.availAddr + 4 + 2 * ((ring.availIdx + k) & ring.mask),
        ring.pending[k],
      );
      ring.state[ring.pending[k]] = HEAD_PUBLISHED;
    }
    ring.availIdx = idx;
    ring.added = 0;
    ring.published += added;
    return added;
  },
};

Deno.test("a driver that stores idx before the slot is caught at the slot store (2.7.13.3.1/1)", () => {
  const f = ringFixture<number>({ startIdx: 0xfffe, driver: IDX_BEFORE_SLOT });
  const observer = observeDriver(f);
  const buf = f.buffer(64);
  observer.during(() => {
    f.driverQueue.add([], [buf], 1);
    f.driverQueue.kickPrepare();
  });
  const findings = observer.finish();
  assert.equal(findings.length, 1, JSON.stringify(findings));
  const [finding] = findings;
  assert.equal(finding.id, "2.7.13.3.1/1");
  assert.equal(finding.position, 0xfffe);
  assert.equal(finding.seenAfter?.address, f.addresses.availAddr + 2, "seen after the idx store");
  assert.equal(finding.lateStore?.address, f.addresses.availAddr + 4 + 2 * 6, "slot 6, too late");
  assert.match(
    finding.message,
    /after store #\d+, a concurrent device took available ring position 0xfffe/,
  );
  assert.match(finding.message, /available ring slot 6/);
  assert.match(finding.message, /the available idx was published before the chain was written/);
  assert.deepEqual(f.log.find("2.7.13.3.1/1").map((v) => v.source), ["concurrent device"]);
});

Deno.test("idx before the slot is caught on a later lap too, when the slot holds the last lap's head", () => {
  const f = ringFixture<number>({ size: 4 });
  const observer = observeDriver(f);
  const data = f.buffer(64);
  const trip = (place: typeof DRIVER.placeAvailEntry, publish: typeof DRIVER.publishAvail) => {
    observer.during(() => {
      const head = DRIVER.addChain(f.driver, [], [data], 0);
      place(f.driver, head);
      publish(f.driver);
    });
    f.deviceQueue.push(f.deviceQueue.pop()!.head, 0);
    observer.during(() => f.driverQueue.getBuf());
  };
  for (let k = 0; k < 6; k++) trip(DRIVER.placeAvailEntry, DRIVER.publishAvail);
  assert.deepEqual(observer.findings, []);
  trip(IDX_BEFORE_SLOT.placeAvailEntry!, IDX_BEFORE_SLOT.publishAvail!);
  const findings = observer.finish();
  assert.deepEqual(findings.map((x) => [x.id, x.position]), [["2.7.13.3.1/1", 6]]);
});

Deno.test("a slot rewritten for the next lap while the chain it named is still out is fine", () => {
  const f = ringFixture<number>({ size: 2 });
  const observer = observeDriver(f);
  const add = (token: number) =>
    observer.during(() => {
      f.driverQueue.add([], [f.buffer(8)], token);
      f.driverQueue.kickPrepare();
    });
  add(0); // position 0, slot 0, head 0
  add(1); // position 1, slot 1, head 1
  const first = f.deviceQueue.pop()!;
  const second = f.deviceQueue.pop()!;
  f.deviceQueue.push(second.head, 0); // completed out of order: head 0 stays out
  observer.during(() => f.driverQueue.getBuf());
  add(2); // position 2 reuses slot 0 while the chain at position 0 is still the device's
  assert.deepEqual(observer.finish(), []);
  assert.equal(observer.taken, 3);
  assert.equal(first.head, 0);
});

Deno.test("a driver that publishes before writing the descriptors is caught at the first late descriptor store", () => {
  const f = ringFixture<number>();
  const observer = observeDriver(f);
  const data = f.buffer(512);
  observer.during(() => {
    // The steps in the wrong order: the head goes out before its descriptor is written.
    const head = f.driver.freeHead;
    DRIVER.placeAvailEntry(f.driver, head);
    DRIVER.publishAvail(f.driver);
    DRIVER.addChain(f.driver, [], [data], 1);
  });
  const findings = observer.finish();
  assert.deepEqual(
    findings.map((x) => x.id),
    ["2.7.13.3.1/1"],
    "the zero-length descriptor it saw is explained by the late store",
  );
  assert.match(findings[0].message, /descriptor 0 (addr|len|flags)/);
  assert.equal(
    findings[0].lateStore?.address,
    f.addresses.descAddr,
    "descriptor 0 addr, the first store of addChain",
  );
});

Deno.test("a store to a chain the device holds is caught even long after the idx store", () => {
  const f = ringFixture<number>();
  const observer = observeDriver(f);
  const data = f.buffer(512);
  observer.during(() => {
    f.driverQueue.add([], [data], 1);
    f.driverQueue.kickPrepare();
  });
  f.deviceQueue.pop(); // the device holds it
  observer.during(() => f.memory.writeU32(f.addresses.descAddr + 8, 4096)); // a driver "fixing" len
  assert.deepEqual(observer.finish().map((x) => x.id), ["2.7.13.3.1/1"]);
});

Deno.test("a chain back in the used ring may be rewritten: no finding after the device returns it", () => {
  const f = ringFixture<number>({ size: 1 });
  const observer = observeDriver(f);
  const data = f.buffer(64);
  for (let trip = 0; trip < 5; trip++) {
    observer.during(() => {
      f.driverQueue.add([], [data], trip);
      f.driverQueue.kickPrepare();
    });
    f.deviceQueue.push(f.deviceQueue.pop()!.head, 64);
    observer.during(() => f.driverQueue.getBuf());
  }
  assert.deepEqual(observer.finish(), []);
  assert.equal(observer.taken, 5);
});

Deno.test("an idx stored as two bytes is seen torn: the concurrent device reports idx moving back", () => {
  const f = ringFixture<number>({
    startIdx: 0x00ff,
    driver: {
      publishAvail: (ring) => {
        const added = ring.added;
        for (let k = 0; k < added; k++) ring.state[ring.pending[k]] = HEAD_PUBLISHED;
        const idx = (ring.availIdx + added) & 0xffff;
        ring.memory.writeU8(ring.availAddr + 2, idx & 0xff); // low byte first: 0x00ff -> 0x0000
        ring.memory.writeU8(ring.availAddr + 3, idx >> 8);
        ring.availIdx = idx;
        ring.added = 0;
        ring.published += added;
        return added;
      },
    },
  });
  const observer = observeDriver(f);
  observer.during(() => {
    f.driverQueue.add([], [f.buffer(8)], 1);
    f.driverQueue.kickPrepare();
  });
  assert.deepEqual(observer.findings, [], "a rule seen broken waits for finish()");
  const findings = observer.finish();
  assert.deepEqual(findings.map((x) => x.id), ["2.7.6.1/1"]);
  assert.match(findings[0].message, /Available idx went back from 255 to 0/);
  assert.equal(observer.taken, 1, "and once the high byte landed, the chain was taken");
});

Deno.test("with a strict log the first finding throws out of the store that revealed it", () => {
  const f = ringFixture<number>({ strict: true, driver: IDX_BEFORE_SLOT });
  const observer = observeDriver(f);
  const buf = f.buffer(8);
  assert.throws(
    () =>
      observer.during(() => {
        f.driverQueue.add([], [buf], 1);
        f.driverQueue.kickPrepare();
      }),
    (e: unknown) => e instanceof ConformanceError && e.violation.id === "2.7.13.3.1/1",
  );
  assert.deepEqual(observer.finish().map((x) => x.id), ["2.7.13.3.1/1"]);
  assert.throws(() => observer.during(() => 0), /finished/);
});

// ----------------------------------------------------------- wrong devices

const REF_PUSH = DEVICE.pushUsed;

/** idx first, then the element. */
const IDX_BEFORE_ELEMENT: Partial<SplitRingDeviceParts> = {
  pushUsed: (ring, head, len) => {
    const at = ring.usedAddr + 4 + 8 * (ring.usedIdx & ring.mask);
    ring.usedIdx = (ring.usedIdx + 1) & 0xffff;
    ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
    ring.memory.writeU32(at, head);
    ring.memory.writeU32(at + 4, len);
  },
};

/** id, then idx, then len. */
const LEN_AFTER_IDX: Partial<SplitRingDeviceParts> = {
  pushUsed: (ring, head, len) => {
    const at = ring.usedAddr + 4 + 8 * (ring.usedIdx & ring.mask);
    ring.memory.writeU32(at, head);
    ring.usedIdx = (ring.usedIdx + 1) & 0xffff;
    ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
    ring.memory.writeU32(at + 4, len);
  },
};

for (
  const [name, parts, field] of [
    ["the used idx before the element", IDX_BEFORE_ELEMENT, "id"],
    ["the used idx before the element's len", LEN_AFTER_IDX, "len"],
  ] as const
) {
  Deno.test(`a device that stores ${name} is caught (2.7.8.2/1)`, () => {
    const f = ringFixture<number>({ startIdx: 0xfffe, device: parts });
    const observer = observeDevice(f);
    f.driverQueue.add([], [f.buffer(512)], 1);
    f.driverQueue.add([], [f.buffer(512)], 2);
    f.driverQueue.kickPrepare();
    observer.during(() => {
      const a = f.deviceQueue.pop()!;
      const b = f.deviceQueue.pop()!;
      f.deviceQueue.push(b.head, 100);
      f.deviceQueue.push(a.head, 200);
    });
    const findings = observer.finish();
    assert.equal(findings[0]?.id, "2.7.8.2/1", JSON.stringify(findings));
    assert.equal(findings[0].position, 0xfffe);
    assert.match(findings[0].message, new RegExp(`used element 6 ${field}`));
    assert.match(findings[0].message, /the used idx moved before the element was written/);
    assert.equal(f.log.find("2.7.8.2/1")[0]?.source, "concurrent driver");
  });
}

Deno.test("a device that reuses a used slot a whole lap later is not blamed", () => {
  const f = ringFixture<number>({ size: 2 });
  const observer = observeDevice(f);
  for (let trip = 0; trip < 8; trip++) {
    f.driverQueue.add([], [f.buffer(16)], trip);
    f.driverQueue.kickPrepare();
    observer.during(() => f.deviceQueue.push(f.deviceQueue.pop()!.head, 16));
    assert.equal(f.driverQueue.getBuf()?.token, trip);
  }
  assert.deepEqual(observer.finish(), []);
  assert.equal(observer.taken, 8);
  assert.equal(REF_PUSH, DEVICE.pushUsed);
});

// --------------------------------------------------------- the kick race

for (const eventIdx of [false, true]) {
  Deno.test(`a driver deciding on a suppression field read before its idx store loses the notification (2.7.13.4.1/1, event idx ${eventIdx})`, () => {
    let early = 0;
    const field = (ring: { eventIdx: boolean; availEventAddr: number; usedAddr: number }) =>
      ring.eventIdx ? ring.availEventAddr : ring.usedAddr;
    const f = ringFixture<number>({
      eventIdx,
      driver: {
        publishAvail: (ring) => {
          early = ring.memory.readU16(field(ring)); // read while the new idx is not stored yet
          return DRIVER.publishAvail(ring);
        },
        needsKick: (ring, oldIdx) =>
          ring.eventIdx
            ? ((ring.availIdx - early - 1) & 0xffff) < ((ring.availIdx - oldIdx) & 0xffff)
            : (early & 1) === 0,
      },
    });
    f.driverQueue.add([], [f.buffer(64)], 1);
    const result = notificationRace(f).run(() => f.driverQueue.kickPrepare());
    assert.equal(result.kicked, false);
    assert.equal(result.deviceSawChains, false);
    assert.equal(result.finding?.id, "2.7.13.4.1/1");
    assert.match(result.finding!.message, /before storing the new available idx/);
    assert.deepEqual(f.log.find("2.7.13.4.1/1").map((v) => v.source), ["concurrent device"]);
  });
}

Deno.test("a driver that always notifies never loses a notification, whatever it reads", () => {
  const f = ringFixture<number>({ driver: { needsKick: () => true } });
  f.driverQueue.add([], [f.buffer(64)], 1);
  const result = notificationRace(f).run(() => f.driverQueue.kickPrepare());
  assert.deepEqual([result.kicked, result.read, result.finding], [true, false, null]);
});

Deno.test("the race needs a device that has caught up", () => {
  const f = ringFixture<number>();
  f.driverQueue.add([], [f.buffer(64)], 1);
  f.driverQueue.kickPrepare();
  assert.throws(() => notificationRace(f), /the race starts with the device caught up/);
});

// ------------------------------------------------------ the re-enable race

/** Takes every chain published and returns it, as a quick device. */
function drain(f: ReturnType<typeof ringFixture<number>>): void {
  for (let c = f.deviceQueue.pop(); c !== null; c = f.deviceQueue.pop()) {
    f.deviceQueue.push(c.head, 0);
  }
  while (f.driverQueue.getBuf() !== null) { /* reap */ }
}

for (const eventIdx of [false, true]) {
  Deno.test(`the reference device re-reads idx after re-enabling notifications: no chain stranded (2.7.10/D1, event idx ${eventIdx})`, () => {
    const f = ringFixture<number>({ size: 8, startIdx: 0xfffd, eventIdx });
    for (let round = 0; round < 6; round++) {
      for (let k = 0; k <= round % 3; k++) f.driverQueue.add([], [f.buffer(64)], round);
      const race = reenableRace(f).run(() => f.deviceQueue.enableNotifications());
      assert.deepEqual(
        [race.finding, race.more, race.stored, race.published],
        [null, true, true, 1 + round % 3],
      );
      drain(f);
    }
    assert.ok(f.device.lastAvail < 0xfffd, "the rounds crossed the 16-bit wrap");
    assert.equal(f.log.entries.length, 0, f.log.format());
  });

  Deno.test(`a device that reads idx before re-enabling strands the chains a driver published meanwhile (2.7.10/D1, event idx ${eventIdx})`, () => {
    const f = ringFixture<number>({
      eventIdx,
      device: {
        enableNotifications(ring) {
          const idx = ring.memory.readU16(ring.availAddr + 2); // looked too early
          DEVICE.enableNotifications(ring);
          return idx !== ring.lastAvail;
        },
      },
    });
    f.driverQueue.add([], [f.buffer(64)], 1);
    const race = reenableRace(f).run(() => f.deviceQueue.enableNotifications());
    assert.equal(race.more, false);
    assert.equal(race.finding?.id, "2.7.10/D1");
    assert.match(race.finding!.message, /did not look at the available idx after its store/);
    assert.deepEqual(f.log.find("2.7.10/D1").map((v) => v.source), ["concurrent driver"]);
  });
}

Deno.test("a device that re-enables without looking again strands the chains; one that never re-enables is not raced", () => {
  const blind = ringFixture<number>({
    device: { enableNotifications: (ring) => (DEVICE.enableNotifications(ring), false) },
  });
  blind.driverQueue.add([], [blind.buffer(64)], 1);
  assert.equal(
    reenableRace(blind).run(() => blind.deviceQueue.enableNotifications()).finding?.id,
    "2.7.10/D1",
  );
  const never = ringFixture<number>({ device: { enableNotifications: () => false } });
  never.driverQueue.add([], [never.buffer(64)], 1);
  const race = reenableRace(never).run(() => never.deviceQueue.enableNotifications());
  assert.deepEqual([race.stored, race.published, race.finding], [false, 0, null]);
});

Deno.test("the re-enable race needs a device that has caught up and chains placed", () => {
  const f = ringFixture<number>();
  assert.throws(() => reenableRace(f), /No chain is placed/);
  f.driverQueue.add([], [f.buffer(64)], 1);
  f.driverQueue.kickPrepare();
  assert.throws(() => reenableRace(f), /the race starts with the device caught up/);
});

// ------------------------------------------------------ as grader checks

interface DriverImpl {
  readonly placeAvailEntry?: typeof DRIVER.placeAvailEntry;
  readonly publishAvail?: typeof DRIVER.publishAvail;
  readonly needsKick?: typeof DRIVER.needsKick;
}
interface DeviceImpl {
  readonly pushUsed?: typeof DEVICE.pushUsed;
}

Deno.test("storeOrderCheck and kickRaceCheck pass the reference halves", async () => {
  const driverChecks = [
    storeOrderCheck<DriverImpl>({ side: "driver", hint: 2, parts: (impl) => ({ ...impl }) }),
    kickRaceCheck<DriverImpl>({ hint: 2, parts: (impl) => ({ ...impl }) }),
  ];
  assert.deepEqual([...failed(await gradeRows(driverChecks, { ...DRIVER })).values()], []);
  const deviceCheck = storeOrderCheck<DeviceImpl>({
    side: "device",
    hint: 3,
    parts: (impl) => ({ ...impl }),
  });
  assert.deepEqual([...failed(await gradeRows([deviceCheck], { ...DEVICE })).values()], []);
});

Deno.test("storeOrderCheck fails a driver that publishes idx before the slot, and says where", async () => {
  const check = storeOrderCheck<DriverImpl>({
    side: "driver",
    hint: 2,
    parts: (impl) => ({ ...impl }),
    note: "xv6-riscv puts a barrier between the slot and idx for this reason.",
  });
  const [result] = await gradeRows([check], IDX_BEFORE_SLOT);
  assert.equal(result.status, "failed");
  assert.equal(result.requirement, "2.7.13.3.1/1");
  assert.match(
    result.message,
    /^observed: on a ring of 8 starting at 0xfff0 \(16 before the wrap\), after store #\d+, a concurrent device took/,
  );
  assert.match(
    result.message,
    /the spec requires: every store of a chain .* before the available idx store/,
  );
  assert.match(result.message, /xv6-riscv puts a barrier/);
});

Deno.test("storeOrderCheck fails a device that moves the used idx before len", async () => {
  const check = storeOrderCheck<DeviceImpl>({
    side: "device",
    hint: 3,
    parts: (impl) => ({ ...impl }),
  });
  const [result] = await gradeRows([check], LEN_AFTER_IDX as DeviceImpl);
  assert.equal(result.requirement, "2.7.8.2/1");
  assert.match(result.message, /a concurrent driver reaped used ring position/);
});

Deno.test("storeOrderCheck shows what the learner's code threw", async () => {
  const check = storeOrderCheck<DriverImpl>({
    side: "driver",
    hint: 2,
    parts: (impl) => ({ ...impl }),
  });
  const [result] = await gradeRows([check], {
    publishAvail: () => {
      throw new TypeError("ring.pending is undefined");
    },
  });
  assert.match(result.message, /your code threw TypeError: ring.pending is undefined/);
});

Deno.test("kickRaceCheck fails a driver deciding on flags it read before the idx store", async () => {
  let early = 0;
  const impl: DriverImpl = {
    publishAvail: (ring) => {
      early = ring.memory.readU16(ring.eventIdx ? ring.availEventAddr : ring.usedAddr);
      return DRIVER.publishAvail(ring);
    },
    needsKick: (ring, oldIdx) =>
      ring.eventIdx
        ? ((ring.availIdx - early - 1) & 0xffff) < ((ring.availIdx - oldIdx) & 0xffff)
        : (early & 1) === 0,
  };
  const [result] = await gradeRows([
    kickRaceCheck<DriverImpl>({ hint: 2, parts: (i) => ({ ...i }) }),
  ], impl);
  assert.equal(result.requirement, "2.7.13.4.1/1");
  assert.match(
    result.message,
    /^observed: round 1 on a ring starting at 0xfffd \(3 before the wrap\): The driver read used ring flags/,
  );
});

interface ReenableImpl {
  readonly enableNotifications?: typeof DEVICE.enableNotifications;
}

Deno.test("reenableRaceCheck passes the reference device half and fails one that looks before it re-enables, or never re-enables", async () => {
  const check = reenableRaceCheck<ReenableImpl>({ hint: 2, parts: (impl) => ({ ...impl }) });
  assert.deepEqual([...failed(await gradeRows([check], { ...DEVICE })).values()], []);
  const [early] = await gradeRows([check], {
    enableNotifications(ring) {
      const idx = ring.memory.readU16(ring.availAddr + 2);
      DEVICE.enableNotifications(ring);
      return idx !== ring.lastAvail;
    },
  });
  assert.equal(early.status, "failed");
  assert.equal(early.requirement, "2.7.10/D1");
  assert.match(early.message, /^observed: round 1 on a ring starting at 0xfffd .*went idle/m);
  const [never] = await gradeRows([check], { enableNotifications: () => true });
  assert.equal(never.status, "failed");
  assert.match(never.message, /stored nothing into the used ring's flags/);
});
