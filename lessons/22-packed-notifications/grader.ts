/**
 * The grader of "Packed-ring notifications".
 *
 * Both decisions (`needsKickPacked`, `needsInterruptPacked`) over every
 * flags value the other side could write (the bad ones too), event offsets
 * on and around the slots just moved, across the ring's end and on both
 * wrap counters, with and without event idx: by what they return, what they
 * report, what they leave in the count and that they store nothing. Both
 * ways of turning notifications on, on both wraps, from every old flags
 * value, with and without work waiting: by the structure they leave, the
 * order of its two stores, the look after them and what they return. Then
 * each side's two parts against peers that notify only as asked, with and
 * without event idx, and the lab machine on packed rings.
 *
 * @module
 */

import { defineGrader, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import {
  enableNotificationsPacked,
  needsInterruptPacked,
} from "../../virtqueue/packed/device_ring.ts";
import { enableCallbacksPacked, needsKickPacked } from "../../virtqueue/packed/driver_ring.ts";
import { hasFeature, VIRTIO_F_RING_PACKED } from "../../virtio/features.ts";
import { every, ruleFor } from "../kit/rules.ts";
import { machineCheck } from "../kit/machine.ts";
import {
  ENABLE_CASES,
  type EnableCase,
  type EnableRun,
  type NotifyCase,
  notifyCases,
  type NotifyRun,
  packedGatedTrips,
  runEnableCallbacks,
  runEnableNotifications,
  runInterrupt,
  runKick,
  showEnable,
  showEnableRun,
  showNotify,
  showNotifyRun,
} from "../kit/packed.ts";

type Impl = typeof Exercise;
const NOTIFY = every(notifyCases().map((c) => [c] as [NotifyCase]));
const ENABLE = every(ENABLE_CASES.map((c) => [c] as [EnableCase]));
const returned = (o: { outcome: { returned: boolean } | { threw: unknown } }) =>
  "returned" in o.outcome ? o.outcome.returned : "threw";
const bad = (c: NotifyCase) => c.flags > 2 || (c.flags === 2 && !c.eventIdx);
const QEMU = "QEMU's virtio_packed_should_notify and Linux's virtqueue_kick_prepare_packed take " +
  "desc_event_off back by Queue Size when its wrap counter is not the current one.";

const kick = ruleFor<Impl, [NotifyCase], NotifyRun>({
  run: (impl, c) => runKick(c, impl.needsKickPacked),
  reference: (c) => runKick(c, needsKickPacked),
  show: (c) => showNotify("needsKickPacked", c),
  result: showNotifyRun,
}, { cases: NOTIFY, hint: 2 });
const interrupt = ruleFor<Impl, [NotifyCase], NotifyRun>({
  run: (impl, c) => runInterrupt(c, impl.needsInterruptPacked),
  reference: (c) => runInterrupt(c, needsInterruptPacked),
  show: (c) => showNotify("needsInterruptPacked", c),
  result: showNotifyRun,
}, { cases: NOTIFY, hint: 2 });
const onDriver = ruleFor<Impl, [EnableCase], EnableRun>({
  run: (impl, c) => runEnableCallbacks(c, impl.enableCallbacksPacked),
  reference: (c) => runEnableCallbacks(c, enableCallbacksPacked),
  show: (c) => showEnable("enableCallbacksPacked", c),
  result: showEnableRun,
}, { cases: ENABLE, hint: 3 });
const onDevice = ruleFor<Impl, [EnableCase], EnableRun>({
  run: (impl, c) => runEnableNotifications(c, impl.enableNotificationsPacked),
  reference: (c) => runEnableNotifications(c, enableNotificationsPacked),
  show: (c) => showEnable("enableNotificationsPacked", c),
  result: showEnableRun,
}, { cases: ENABLE, hint: 3 });

/** The four rows of one decision part. */
function decisionRows(
  subject: typeof kick,
  id: "2.8.10/D1" | "2.8.10/D2",
  badId: "2.8.14/D1" | "2.8.14/D2",
  moved: string,
) {
  return [
    subject({
      name: `${moved}: ENABLE notifies, DISABLE does not`,
      requirement: id,
      when: (c) => c.moved > 0 && c.flags < 2,
      verdict: (o) => returned(o),
      why: "true for ENABLE, false for DISABLE, whatever the offset",
    }),
    subject({
      name: `${moved}: with event idx, DESC notifies exactly for the slot it names`,
      requirement: id,
      when: (c) => c.moved > 0 && c.flags === 2 && c.eventIdx,
      verdict: (o) => returned(o),
      why: "true exactly when slot desc_event_off on wrap desc_event_wrap is among the slots " +
        "moved since the last decision (all of them once the count reaches Queue Size)",
      note: () => QEMU,
    }),
    subject({
      name: `${moved}: flags the other side may not write are reported and read as ENABLE`,
      requirement: badId,
      when: (c) => c.moved > 0 && bad(c),
      verdict: (o) => ({ returned: returned(o), ids: o.ids }),
      why: `true, with ${badId} reported (0x3, a reserved bit, or DESC without event idx)`,
    }),
    subject({
      name: `${moved}: the decision uses up the count and stores nothing`,
      requirement: id,
      verdict: (o, c) => ({
        left: o.left,
        stores: o.stores.length,
        returned: c.moved === 0 ? returned(o) : "any",
      }),
      why: "the count back to 0, no store, and false when nothing moved",
    }),
  ];
}

/** The two rows of one enabling part. */
function enableRows(subject: typeof onDriver, id: "2.8.22/D2" | "2.8.10/D3", what: string) {
  return [
    subject({
      name: `${what}: the desc word first, then DESC with event idx; ENABLE without`,
      requirement: id,
      verdict: (o) => ({ event: o.event, descFirst: o.descFirst, state: o.state }),
      why:
        "with event idx the desc word = position | wrap << 15, stored before the flags = DESC; " +
        "without it flags = ENABLE; the record's own flag updated",
    }),
    subject({
      name: `${what}: a look at the next descriptor after the stores`,
      requirement: id,
      verdict: (o) => ({ returned: returned(o), lookedAfter: o.lookedAfter }),
      why: "the descriptor's flags read after the last store, and the answer they give",
    }),
  ];
}

/** The learner's parts against peers that notify only as asked. */
function gated(impl: Impl): void {
  const device = {
    needsInterruptPacked: impl.needsInterruptPacked,
    enableNotificationsPacked: impl.enableNotificationsPacked,
  };
  const driver = {
    needsKickPacked: impl.needsKickPacked,
    enableCallbacksPacked: impl.enableCallbacksPacked,
  };
  for (const eventIdx of [true, false]) {
    for (const [side, parts] of [["device", [device, {}]], ["driver", [{}, driver]]] as const) {
      const run = packedGatedTrips(parts[0], parts[1], { eventIdx });
      if (run.stall === null && run.ids.length === 0) continue;
      fail({
        observed: `with your ${side} parts ${eventIdx ? "and" : "without"} VIRTIO_F_EVENT_IDX, ` +
          (run.stall ?? `the log got ${run.ids.slice(0, 3).join(", ")}`),
        expected: "all 300 buffers through a packed ring of 5 whose peers notify only as asked",
      });
    }
  }
}

export const grader = defineGrader<Impl>({
  lesson: "packed-notifications",
  checks: [
    ...decisionRows(kick, "2.8.10/D1", "2.8.14/D2", "the kick"),
    ...enableRows(onDriver, "2.8.22/D2", "turning used buffer notifications on"),
    ...decisionRows(interrupt, "2.8.10/D2", "2.8.14/D1", "the interrupt"),
    ...enableRows(onDevice, "2.8.10/D3", "turning available buffer notifications on"),
    {
      name: "your parts run with peers that notify only as asked",
      requirement: "2.8.10/D1",
      hint: 4,
      expects: "every buffer through the ring, no notification missing, nothing reported",
      run: gated,
    },
    machineCheck<Impl>({
      id: "packed-notifications",
      name: "your notifications run the lab machine on packed rings",
      requirement: "2.8.10/D2",
      hint: 4,
      expects: "the lab machine on packed rings, your four parts and a strict log, to negotiate " +
        "VIRTIO_F_RING_PACKED and VIRTIO_F_EVENT_IDX and carry console and disk traffic",
      lesson,
      packed: true,
      also(machine) {
        for (const dev of [machine.blk, machine.console]) {
          if (hasFeature(dev.driverTransport.features, VIRTIO_F_RING_PACKED)) continue;
          fail({
            observed: `${dev.window.name} negotiated no VIRTIO_F_RING_PACKED`,
            expected: "VIRTIO_F_RING_PACKED negotiated with both devices",
          });
        }
      },
    }),
  ],
});
