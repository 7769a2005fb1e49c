// Correct: straight-line code in the order of §4.2.4, the shape of Linux's
// vm_probe, vm_finalize_features, vm_setup_vq and vm_del_vq for a version 1
// window, with if-chains for the device's decisions.

import { isValidQueueSize, vringLayout } from "../../../../virtqueue/layout.ts";
import {
  type LegacyQueueRegisterOutcome,
  type LegacyQueueRegisters,
  type LegacyQueueRegisterWrite,
  legacyQueueView,
} from "../../../../transport/legacy_registers.ts";
import type { QueueAreaCheck } from "../../../../transport/queue_registers.ts";
import type { RuleBreak, StatusTransition } from "../../../../transport/device_status.ts";
import type { ProbeResult } from "../../../../transport/driver_init.ts";
import {
  type QueueSetup,
  QueueSetupError,
  type QueueSetupRequest,
  QueueStopError,
} from "../../../../transport/driver_queues.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { RegisterWindow, RuleProblem } from "../../../../transport/types.ts";

const MAGIC = 0x74726976;
const DEVICE_FEATURES = 0x010;
const DEVICE_FEATURES_SEL = 0x014;
const DRIVER_FEATURES = 0x020;
const DRIVER_FEATURES_SEL = 0x024;
const GUEST_PAGE_SIZE = 0x028;
const QUEUE_SEL = 0x030;
const QUEUE_NUM_MAX = 0x034;
const QUEUE_NUM = 0x038;
const QUEUE_ALIGN = 0x03c;
const QUEUE_PFN = 0x040;

const ACKNOWLEDGE = 1;
const DRIVER = 2;
const DRIVER_OK = 4;
const FEATURES_OK = 8;
const NEEDS_RESET = 0x40;
const FAILED = 0x80;
const LEGACY_BITS = ACKNOWLEDGE | DRIVER | DRIVER_OK | FAILED;

export function nextLegacyDeviceStatus(current: number, written: number): StatusTransition {
  const value = written & 0xff;
  if (value === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const violations: RuleBreak[] = [];
  if (value & FEATURES_OK) {
    violations.push({ id: "4.2.4/D4", message: "A legacy device has no FEATURES_OK" });
  }
  const bits = value & LEGACY_BITS;
  if (current & LEGACY_BITS & ~bits) {
    violations.push({ id: "2.1.1/2", message: "The driver cleared a status bit" });
  }
  const status = (current & (LEGACY_BITS | NEEDS_RESET)) | bits;
  const added = status & ~current;
  if ((current & FAILED) && (added & ~FAILED)) {
    violations.push({ id: "2.1.1/3", message: "A bit was added after FAILED" });
  }
  if ((added & DRIVER) && !(status & ACKNOWLEDGE)) {
    violations.push({ id: "3.1.1/1", message: "DRIVER before ACKNOWLEDGE" });
  }
  if ((added & DRIVER_OK) && !(status & DRIVER)) {
    violations.push({ id: "3.1.1/1", message: "DRIVER_OK before DRIVER" });
  }
  const activate = (added & DRIVER_OK) !== 0 && (status & FAILED) === 0;
  return { status, reset: false, negotiate: false, activate, violations };
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && Number.isInteger(Math.log2(n));
}

export function writeLegacyQueueRegister(
  registers: LegacyQueueRegisters,
  write: LegacyQueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): LegacyQueueRegisterOutcome {
  const value = write.value >>> 0;
  const nothing = { registers, problems: [], enabled: false, stopped: false };
  const refuse = (problem: RuleProblem) => ({ ...nothing, problems: [problem] });
  const problem = (id: RuleProblem["id"], message: string): RuleProblem => ({
    id,
    message,
    values: { queue: write.queue, value },
  });
  if (write.offset === QUEUE_PFN && value === 0) {
    if (registers.pfn === 0) return nothing;
    return { ...nothing, registers: { ...registers, pfn: 0, base: 0 }, stopped: true };
  }
  if (registers.pfn !== 0) {
    return refuse(problem("4.2.4/D3", `Queue ${write.queue} is in use`));
  }
  if (write.offset === QUEUE_NUM) return { ...nothing, registers: { ...registers, num: value } };
  if (write.offset === QUEUE_ALIGN) {
    return { ...nothing, registers: { ...registers, align: value } };
  }
  if (write.offset !== QUEUE_PFN) return nothing;
  if (!isPowerOfTwo(write.guestPageSize)) {
    return refuse(problem("4.2.4/D1", `No usable GuestPageSize (${write.guestPageSize})`));
  }
  if (!isPowerOfTwo(registers.align) || registers.align < 4) {
    return refuse(problem("4.2.4/D1", `QueueAlign ${registers.align} is no power of two >= 4`));
  }
  if (registers.num === 0) return refuse(problem("4.2.4/D2", "QueuePFN before QueueNum"));
  if (!isValidQueueSize(registers.num)) {
    return refuse(problem("2.7/D1", `QueueNum ${registers.num} is not a queue size`));
  }
  if (registers.num > write.max) {
    return refuse(problem("4.2.2.2/9", `QueueNum ${registers.num} above ${write.max}`));
  }
  const next = { ...registers, pfn: value, base: value * write.guestPageSize };
  const areas = checkAreas(legacyQueueView(next));
  if (areas) return refuse(areas);
  return { registers: next, problems: [], enabled: true, stopped: false };
}

export function probeTransitionalWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(0x000) >>> 0;
  if (magic !== MAGIC) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/4",
      reason: `bad magic ${magic}`,
      magic,
      version: 0,
    };
  }
  const version = window.read32(0x004) >>> 0;
  if (version !== 1 && version !== 2) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/5",
      reason: `version ${version} not supported`,
      magic,
      version,
    };
  }
  const deviceId = window.read32(0x008) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  const vendorId = window.read32(0x00c) >>> 0;
  return { kind: "device", deviceId, vendorId, version };
}

export function negotiateLegacyFeatures(window: RegisterWindow, supported: bigint): bigint {
  window.write32(DEVICE_FEATURES_SEL, 0);
  const offered = BigInt(window.read32(DEVICE_FEATURES) >>> 0);
  const accepted = offered & supported & 0xffffffffn;
  window.write32(DRIVER_FEATURES_SEL, 0);
  window.write32(DRIVER_FEATURES, Number(accepted));
  return accepted;
}

export function setupLegacyQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  pageSize = 4096,
): QueueSetup {
  window.write32(GUEST_PAGE_SIZE, pageSize);
  window.write32(QUEUE_SEL, index);
  const used = window.read32(QUEUE_PFN) >>> 0;
  if (used !== 0) throw new QueueSetupError(`queue ${index} in use`, index, "QueuePFN", used);
  const max = window.read32(QUEUE_NUM_MAX) >>> 0;
  if (max === 0) throw new QueueSetupError(`no queue ${index}`, index, "QueueNumMax", 0);
  const capped = Math.min(request.size ?? max, max, request.maxSize ?? 32768, 32768);
  if (!(capped >= 1)) throw new QueueSetupError("no size fits", index, "size", capped);
  let size = 1;
  while (size * 2 <= capped) size *= 2;
  const layout = vringLayout(size, pageSize);
  let base: number;
  try {
    base = allocator.alloc(layout.total, pageSize, { zero: true });
  } catch (error) {
    throw new QueueSetupError("no memory", index, "allocation", size, { cause: error });
  }
  const pfn = base / pageSize;
  window.write32(QUEUE_NUM, size);
  window.write32(QUEUE_ALIGN, pageSize);
  window.write32(QUEUE_PFN, pfn);
  const back = window.read32(QUEUE_PFN) >>> 0;
  if (back !== pfn) {
    allocator.free(base);
    throw new QueueSetupError("refused", index, "QueuePFN read-back", back);
  }
  return {
    size,
    descAddr: base,
    availAddr: base + layout.availOffset,
    usedAddr: base + layout.usedOffset,
  };
}

export function stopLegacyQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(QUEUE_SEL, index);
  window.write32(QUEUE_PFN, 0);
  let last = 0;
  for (let i = 0; i < maxPolls; i++) {
    last = window.read32(QUEUE_PFN) >>> 0;
    if (last === 0) return;
  }
  throw new QueueStopError(index, maxPolls, last, "QueuePFN");
}
