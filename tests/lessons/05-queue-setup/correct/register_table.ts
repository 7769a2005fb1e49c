// Correct: the device's rules as a list of checks run in turn over a table of
// the address registers; the driver splits addresses with bigint and writes
// the three pairs from a table, and waits with a while loop.

import { isValidQueueSize } from "../../../../virtqueue/layout.ts";
import type {
  QueueAreaCheck,
  QueueRegisterOutcome,
  QueueRegisters,
  QueueRegisterWrite,
} from "../../../../transport/queue_registers.ts";
import {
  type QueueAreaAllocator,
  type QueueSetup,
  QueueSetupError,
  type QueueSetupRequest,
  QueueStopError,
} from "../../../../transport/driver_queues.ts";
import * as R from "../../../../transport/mmio_registers.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { RegisterWindow, RuleProblem } from "../../../../transport/types.ts";

type Field = "descLow" | "descHigh" | "driverLow" | "driverHigh" | "deviceLow" | "deviceHigh";
const ADDRESS: ReadonlyMap<number, Field> = new Map([
  [R.VIRTIO_MMIO_QUEUE_DESC_LOW, "descLow"],
  [R.VIRTIO_MMIO_QUEUE_DESC_HIGH, "descHigh"],
  [R.VIRTIO_MMIO_QUEUE_AVAIL_LOW, "driverLow"],
  [R.VIRTIO_MMIO_QUEUE_AVAIL_HIGH, "driverHigh"],
  [R.VIRTIO_MMIO_QUEUE_USED_LOW, "deviceLow"],
  [R.VIRTIO_MMIO_QUEUE_USED_HIGH, "deviceHigh"],
]);

export function writeQueueRegister(
  registers: QueueRegisters,
  write: QueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): QueueRegisterOutcome {
  const { offset, value, queue } = write;
  const isReady = offset === R.VIRTIO_MMIO_QUEUE_READY;
  const done = (
    r: QueueRegisters,
    problems: RuleProblem[],
    how: { enabled?: boolean; stopped?: boolean } = {},
  ): QueueRegisterOutcome => ({
    registers: r,
    enabled: how.enabled ?? false,
    stopped: how.stopped ?? false,
    reset: false,
    problems,
  });
  if (isReady && value === 0) {
    return done({ ...registers, ready: false, stopUnconfirmed: true }, [], {
      stopped: registers.ready,
    });
  }
  if (isReady && registers.ready) return done(registers, []);

  const problems: RuleProblem[] = [];
  const say = (id: RuleProblem["id"], message: string) =>
    problems.push({ id, message, values: { queue, value } });
  const r = { ...registers, stopUnconfirmed: false };
  if (registers.stopUnconfirmed) say("4.2.2.2/11", "write after a stop that was not read back");

  if (isReady) {
    const found = checkAreas(r);
    if (found) return done(r, [...problems, found]);
    return done({ ...r, ready: true }, problems, { enabled: true });
  }
  if (r.ready) {
    say("4.2.2.2/10", "the queue is live: its size and addresses are fixed");
    return done(r, problems);
  }
  const field = ADDRESS.get(offset);
  if (field) return done({ ...r, [field]: value >>> 0 }, problems);
  if (offset === R.VIRTIO_MMIO_QUEUE_NUM) {
    if (value > write.max) say("4.2.2.2/9", `QueueNum ${value} > QueueNumMax ${write.max}`);
    else if (!isValidQueueSize(value)) say("2.7/D1", `QueueNum ${value} is no Queue Size`);
    else return done({ ...r, num: value }, problems);
  }
  return done(r, problems);
}

export function setupQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  allocateAreas: QueueAreaAllocator,
): QueueSetup {
  const fail = (message: string, step: QueueSetupError["step"], value: number, cause?: unknown) =>
    new QueueSetupError(message, index, step, value, cause === undefined ? undefined : { cause });
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, index);
  const inUse = window.read32(R.VIRTIO_MMIO_QUEUE_READY) >>> 0;
  if (inUse) throw fail(`queue ${index}: QueueReady reads ${inUse}`, "QueueReady", inUse);
  const max = window.read32(R.VIRTIO_MMIO_QUEUE_NUM_MAX) >>> 0;
  if (!max) throw fail(`queue ${index}: QueueNumMax reads 0`, "QueueNumMax", 0);
  const fits = Math.min(request.size ?? max, request.maxSize ?? 32768, max, 32768);
  if (!(fits >= 1)) throw fail(`queue ${index}: nothing fits (${fits})`, "size", fits);
  const size = 2 ** Math.floor(Math.log2(fits));
  let areas;
  try {
    areas = allocateAreas(allocator, size);
  } catch (error) {
    throw fail(`queue ${index}: no room for ${size} descriptors`, "allocation", size, error);
  }
  const pairs: [number, number, number][] = [
    [R.VIRTIO_MMIO_QUEUE_DESC_LOW, R.VIRTIO_MMIO_QUEUE_DESC_HIGH, areas.descAddr],
    [R.VIRTIO_MMIO_QUEUE_AVAIL_LOW, R.VIRTIO_MMIO_QUEUE_AVAIL_HIGH, areas.availAddr],
    [R.VIRTIO_MMIO_QUEUE_USED_LOW, R.VIRTIO_MMIO_QUEUE_USED_HIGH, areas.usedAddr],
  ];
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, size);
  for (const [low, high, address] of pairs) {
    const a = BigInt(address);
    window.write32(low, Number(a & 0xffff_ffffn));
    window.write32(high, Number(a >> 32n));
  }
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  const back = window.read32(R.VIRTIO_MMIO_QUEUE_READY) >>> 0;
  if (back !== 1) {
    for (const [, , address] of pairs) allocator.free(address);
    throw fail(`queue ${index}: refused by the device`, "QueueReady read-back", back);
  }
  return { size, ...areas };
}

export function stopQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, index);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 0);
  let polls = 0;
  let ready = 1;
  while (polls < maxPolls) {
    polls++;
    ready = window.read32(R.VIRTIO_MMIO_QUEUE_READY) >>> 0;
    if (ready === 0) return;
  }
  throw new QueueStopError(index, polls, ready);
}
