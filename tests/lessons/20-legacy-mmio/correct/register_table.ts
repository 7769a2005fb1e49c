// Correct: tables. The status byte as a list of rules over the bits added,
// the queue registers as a handler per register, the probe as a table of
// versions, and bigint arithmetic for the features.

import { vringLayout } from "../../../../virtqueue/layout.ts";
import {
  type LegacyQueueRegisterOutcome,
  type LegacyQueueRegisters,
  type LegacyQueueRegisterWrite,
  legacyQueueView,
} from "../../../../transport/legacy_registers.ts";
import type { QueueAreaCheck } from "../../../../transport/queue_registers.ts";
import type { StatusTransition } from "../../../../transport/device_status.ts";
import type { ProbeResult } from "../../../../transport/driver_init.ts";
import {
  type QueueSetup,
  QueueSetupError,
  type QueueSetupRequest,
  QueueStopError,
} from "../../../../transport/driver_queues.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { RegisterWindow, RuleProblem } from "../../../../transport/types.ts";
import * as R from "../../../../transport/mmio_registers.ts";
import type { RequirementId } from "../../../../conformance/requirements.ts";

const S = {
  ACK: 0x01,
  DRIVER: 0x02,
  DRIVER_OK: 0x04,
  FEATURES_OK: 0x08,
  NEEDS_RESET: 0x40,
  FAILED: 0x80,
};
const KNOWN = S.ACK | S.DRIVER | S.DRIVER_OK | S.FAILED;

/** [id, does the write break it?] over (current, value, status, added). */
const STATUS_RULES: [RequirementId, (c: number, v: number, s: number, a: number) => boolean][] = [
  ["4.2.4/D4", (_c, v) => (v & S.FEATURES_OK) !== 0],
  ["2.1.1/2", (c, v) => (c & KNOWN & ~v) !== 0],
  ["2.1.1/3", (c, _v, _s, a) => (c & S.FAILED) !== 0 && (a & ~S.FAILED) !== 0],
  ["3.1.1/1", (_c, _v, s, a) => (a & S.DRIVER) !== 0 && (s & S.ACK) === 0],
  ["3.1.1/1", (_c, _v, s, a) => (a & S.DRIVER_OK) !== 0 && (s & S.DRIVER) === 0],
];

export function nextLegacyDeviceStatus(current: number, written: number): StatusTransition {
  const v = written & 0xff;
  if (!v) return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  const status = (current & (KNOWN | S.NEEDS_RESET)) | (v & KNOWN);
  const added = status & ~current;
  const violations = STATUS_RULES
    .filter(([, broken]) => broken(current, v, status, added))
    .map(([id]) => ({ id, message: `status write 0x${v.toString(16)} breaks ${id}` }));
  return {
    status,
    reset: false,
    negotiate: false,
    activate: Boolean(added & S.DRIVER_OK) && !(status & S.FAILED),
    violations,
  };
}

const pow2 = (n: number, min = 1) => n >= min && (n & (n - 1)) === 0 && n <= 2 ** 31;

type Handler = (
  r: LegacyQueueRegisters,
  w: LegacyQueueRegisterWrite,
  check: QueueAreaCheck,
) => LegacyQueueRegisterOutcome;
const ok = (registers: LegacyQueueRegisters, more = {}): LegacyQueueRegisterOutcome => ({
  registers,
  problems: [],
  enabled: false,
  stopped: false,
  ...more,
});
const no = (r: LegacyQueueRegisters, id: RequirementId, message: string) => ({
  ...ok(r),
  problems: [{ id, message, values: { pfn: r.pfn } } satisfies RuleProblem],
});

function placeQueue(r: LegacyQueueRegisters, w: LegacyQueueRegisterWrite, check: QueueAreaCheck) {
  const pfn = w.value >>> 0;
  if (pfn === 0) return r.pfn ? ok({ ...r, pfn: 0, base: 0 }, { stopped: true }) : ok(r);
  const refusals: [boolean, RequirementId, string][] = [
    [!pow2(w.guestPageSize), "4.2.4/D1", "GuestPageSize is not a power of two"],
    [!pow2(r.align, 4), "4.2.4/D1", "QueueAlign is not a power of two of at least 4"],
    [r.num === 0, "4.2.4/D2", "QueueNum was never written"],
    [!pow2(r.num) || r.num > 32768, "2.7/D1", "QueueNum is not a queue size"],
    [r.num > w.max, "4.2.2.2/9", "QueueNum is above QueueNumMax"],
  ];
  const first = refusals.find(([broken]) => broken);
  if (first) return no(r, first[1], first[2]);
  const placed = { ...r, pfn, base: pfn * w.guestPageSize };
  const problem = check(legacyQueueView(placed));
  return problem ? { ...ok(r), problems: [problem] } : ok(placed, { enabled: true });
}

const HANDLERS: Record<number, Handler> = {
  [R.VIRTIO_MMIO_QUEUE_NUM]: (r, w) => ok({ ...r, num: w.value >>> 0 }),
  [R.VIRTIO_MMIO_QUEUE_ALIGN]: (r, w) => ok({ ...r, align: w.value >>> 0 }),
  [R.VIRTIO_MMIO_QUEUE_PFN]: placeQueue,
};

export function writeLegacyQueueRegister(
  registers: LegacyQueueRegisters,
  write: LegacyQueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): LegacyQueueRegisterOutcome {
  const handler = HANDLERS[write.offset];
  if (!handler) return ok(registers);
  const stop = write.offset === R.VIRTIO_MMIO_QUEUE_PFN && write.value === 0;
  if (registers.pfn !== 0 && !stop) {
    return no(registers, "4.2.4/D3", `queue ${write.queue} is in use`);
  }
  return handler(registers, write, checkAreas);
}

const VERSIONS: Record<number, string> = { 1: "legacy", 2: "modern" };

export function probeTransitionalWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(R.VIRTIO_MMIO_MAGIC_VALUE) >>> 0;
  if (magic !== R.VIRTIO_MMIO_MAGIC) {
    return { kind: "rejected", requirement: "4.2.2.2/4", reason: "not virtio", magic, version: 0 };
  }
  const version = window.read32(R.VIRTIO_MMIO_VERSION) >>> 0;
  if (!(version in VERSIONS)) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/5",
      reason: "unknown version",
      magic,
      version,
    };
  }
  const deviceId = window.read32(R.VIRTIO_MMIO_DEVICE_ID) >>> 0;
  return deviceId === 0 ? { kind: "empty" } : {
    kind: "device",
    deviceId,
    vendorId: window.read32(R.VIRTIO_MMIO_VENDOR_ID) >>> 0,
    version,
  };
}

export function negotiateLegacyFeatures(window: RegisterWindow, supported: bigint): bigint {
  window.write32(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  const word = BigInt.asUintN(32, BigInt(window.read32(R.VIRTIO_MMIO_DEVICE_FEATURES)));
  const accepted = word & BigInt.asUintN(32, supported);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, Number(accepted));
  return accepted;
}

export function setupLegacyQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  pageSize = 4096,
): QueueSetup {
  const fail = (message: string, step: QueueSetupError["step"], value: number, cause?: unknown) =>
    new QueueSetupError(message, index, step, value, cause === undefined ? undefined : { cause });
  window.write32(R.VIRTIO_MMIO_GUEST_PAGE_SIZE, pageSize);
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, index);
  const pfnNow = window.read32(R.VIRTIO_MMIO_QUEUE_PFN) >>> 0;
  if (pfnNow) throw fail("in use", "QueuePFN", pfnNow);
  const max = window.read32(R.VIRTIO_MMIO_QUEUE_NUM_MAX) >>> 0;
  if (!max) throw fail("absent", "QueueNumMax", 0);
  const wanted = Math.min(request.size ?? max, request.maxSize ?? 32768, max, 32768);
  if (!(wanted >= 1)) throw fail("nothing fits", "size", wanted);
  const size = 2 ** Math.floor(Math.log2(wanted));
  const { total, availOffset, usedOffset } = vringLayout(size, pageSize);
  let region: number;
  try {
    region = allocator.alloc(total, pageSize, { zero: true });
  } catch (error) {
    throw fail("no room", "allocation", size, error);
  }
  const pfn = region / pageSize;
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, size);
  window.write32(R.VIRTIO_MMIO_QUEUE_ALIGN, pageSize);
  window.write32(R.VIRTIO_MMIO_QUEUE_PFN, pfn);
  const readBack = window.read32(R.VIRTIO_MMIO_QUEUE_PFN) >>> 0;
  if (readBack === pfn) {
    return {
      size,
      descAddr: region,
      availAddr: region + availOffset,
      usedAddr: region + usedOffset,
    };
  }
  allocator.free(region);
  throw fail("device refused the queue", "QueuePFN read-back", readBack);
}

export function stopLegacyQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, index);
  window.write32(R.VIRTIO_MMIO_QUEUE_PFN, 0);
  let polls = 0;
  let pfn: number;
  do {
    pfn = window.read32(R.VIRTIO_MMIO_QUEUE_PFN) >>> 0;
    polls++;
  } while (pfn !== 0 && polls < maxPolls);
  if (pfn !== 0) throw new QueueStopError(index, polls, pfn, "QueuePFN");
}
