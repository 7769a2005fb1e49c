/**
 * An eager device: one that completes every chain *synchronously inside the
 * driver's notification*, before `notify` returns, and delivers the used
 * buffer notification right there too. Real devices may do this (a vhost
 * thread on another CPU can finish a request before the guest's notify
 * instruction retires), and a driver that assumes completion always comes
 * later breaks on it: it records the request it is waiting for only after
 * notifying (the completion finds nothing to wake), reaps before it has
 * finished its own bookkeeping, or counts on a second interrupt.
 *
 * {@linkcode eagerDevice} gives the `notify` function to hand to the driver
 * code under test. A notification that arrives while the device is already
 * inside one (the driver's interrupt handler refilled and kicked) is served
 * after the current one, in the same call, up to a completion limit, so a
 * driver that resubmits from its handler cannot recurse without end.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { GuestMemory } from "../../memory/guest_memory.ts";
import { writeChain } from "../../virtqueue/chain.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";
import type { RingFixture } from "./ring.ts";

/** What {@linkcode eagerDevice} takes. */
export interface EagerDeviceOptions {
  /**
   * Completes one chain and returns the bytes written (at most its writable
   * length). Default: fills every writable byte with {@linkcode eagerPattern}
   * and reports them all.
   */
  readonly complete?: (chain: DescriptorChain, memory: GuestMemory) => number;
  /** The used buffer notification, called inside `notify` when the driver wants one. */
  readonly interrupt?: () => void;
  /** Completions after which the device stops taking chains (default 10,000). */
  readonly limit?: number;
}

/** An eager device over a fixture's device half. */
export interface EagerDevice {
  /**
   * The driver's notification: takes, completes and returns every available chain before it
   * returns.
   */
  readonly notify: () => void;
  /** Notifications received. */
  readonly notifications: number;
  /** Notifications received while one was being served (from the driver's interrupt handler). */
  readonly nested: number;
  /** The chains completed, in order. */
  readonly completed: readonly DescriptorChain[];
  /** Used buffer notifications delivered. */
  readonly interrupts: number;
  /** Whether the completion limit was reached (the device then stops). */
  readonly saturated: boolean;
}

/**
 * The byte the default completion writes at `offset` of the chain at `head`:
 * every chain's data differs, and so does every byte of it.
 *
 * @param head The chain's head.
 * @param offset Byte offset in the chain's writable buffers.
 */
export function eagerPattern(head: number, offset: number): number {
  return (head * 31 + offset * 7 + 1) & 0xff;
}

function fillPattern(chain: DescriptorChain, memory: GuestMemory): number {
  const data = new Uint8Array(chain.writableLength);
  for (let i = 0; i < data.length; i++) data[i] = eagerPattern(chain.head, i);
  return writeChain(memory, chain.writable, data);
}

/**
 * An eager device on a fixture's device half (`f.deviceQueue`): see the
 * module documentation.
 *
 * @param f The fixture.
 * @param options How chains are completed, the interrupt, the completion limit.
 * @returns The device; give its `notify` to the driver code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ringFixture } from "./ring.ts";
 * import { eagerDevice } from "./eager.ts";
 *
 * const f = ringFixture();
 * const done: string[] = [];
 * const device = eagerDevice(f, {
 *   interrupt: () => {
 *     for (let u = f.driverQueue.getBuf(); u !== null; u = f.driverQueue.getBuf()) {
 *       done.push(u.token);
 *     }
 *   },
 * });
 * f.driverQueue.add([], [f.buffer(8)], "read");
 * if (f.driverQueue.kickPrepare()) device.notify();
 * assert.deepEqual(done, ["read"]); // completed before notify returned
 * ```
 */
export function eagerDevice<T>(f: RingFixture<T>, options: EagerDeviceOptions = {}): EagerDevice {
  const queue = f.deviceQueue;
  const complete = options.complete ?? fillPattern;
  const limit = options.limit ?? 10_000;
  const completed: DescriptorChain[] = [];
  let notifications = 0;
  let nested = 0;
  let interrupts = 0;
  let serving = false;
  let again = false;

  const serve = () => {
    for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
      queue.push(chain.head, complete(chain, f.memory));
      completed.push(chain);
      if (completed.length >= limit) return;
    }
  };

  const device: EagerDevice = {
    notify() {
      notifications++;
      if (serving) {
        nested++;
        again = true;
        return;
      }
      serving = true;
      try {
        do {
          again = false;
          if (completed.length >= limit) break;
          serve();
          if (queue.needsInterrupt()) {
            interrupts++;
            options.interrupt?.();
          }
        } while (again);
      } finally {
        serving = false;
      }
    },
    get notifications() {
      return notifications;
    },
    get nested() {
      return nested;
    },
    completed,
    get interrupts() {
      return interrupts;
    },
    get saturated() {
      return completed.length >= limit;
    },
  };
  return device;
}
