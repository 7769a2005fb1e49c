// The kit's round trips against peers that notify only as asked: the library
// completes every schedule, a forgotten event-index update stops the ring and
// is named, and the check built on it tells the two apart.

import assert from "node:assert/strict";
import {
  ROUND_TRIP_SCHEDULES,
  roundTripCheck,
  roundTrips,
} from "../../../lessons/kit/round_trips.ts";
import { REFERENCE_SPLIT_RING_DEVICE_PARTS } from "../../../virtqueue/parts.ts";

Deno.test("the library's parts complete every schedule, with and without event idx", () => {
  for (const s of ROUND_TRIP_SCHEDULES) {
    for (const eventIdx of [true, false]) {
      const run = roundTrips({ ...s, eventIdx, trips: 300 });
      assert.equal(run.stall, null, `${JSON.stringify(s)} event idx ${eventIdx}`);
      assert.equal(run.threw, null);
      assert.equal(run.completed, 300);
      assert.deepEqual(run.violations, []);
    }
  }
});

Deno.test("a missed used_event or avail_event update stalls, and the stall names the field", () => {
  const driver = roundTrips({ trips: 300, driver: { updateUsedEvent: () => {} } });
  assert.equal(driver.stall?.missing, "interrupt");
  assert.match(driver.stall!.message, /used_event being/);
  const device = roundTrips({ trips: 300, device: { updateAvailEvent: () => {} } });
  assert.equal(device.stall?.missing, "kick");
  assert.match(device.stall!.message, /avail_event being/);
});

Deno.test("roundTripCheck passes the library and fails a device that never moves avail_event", () => {
  const check = roundTripCheck<typeof REFERENCE_SPLIT_RING_DEVICE_PARTS>({
    side: "device",
    hint: 2,
    parts: (impl) => ({ device: { updateAvailEvent: impl.updateAvailEvent } }),
  });
  check.run(REFERENCE_SPLIT_RING_DEVICE_PARTS);
  assert.throws(
    () => check.run({ ...REFERENCE_SPLIT_RING_DEVICE_PARTS, updateAvailEvent: () => {} }),
    /the ring stopped/,
  );
});
