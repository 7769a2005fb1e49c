// Correct: every freedom the contracts leave. Violations in another order,
// problems with an action and bare values, the same record returned when
// nothing changes, QueueNum checked before GuestPageSize, and a setup that
// reads QueueNumMax before QueuePFN, writes GuestPageSize late and QueueAlign
// before QueueNum, and reads a register the steps do not name.

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

export function nextLegacyDeviceStatus(current: number, written: number): StatusTransition {
  const value = written & 0xff;
  if (value === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const status = (current & 0xc7) | (value & 0x87);
  const added = status & ~current;
  const violations: RuleBreak[] = [];
  // Reported last-rule-first: the order is free.
  if ((added & 4) && !(status & 2)) violations.push({ id: "3.1.1/1", message: "DRIVER_OK early" });
  if ((added & 2) && !(status & 1)) violations.push({ id: "3.1.1/1", message: "DRIVER early" });
  if ((current & 0x80) && (added & 0x7f)) {
    violations.push({ id: "2.1.1/3", message: "after FAILED" });
  }
  if (current & 0x87 & ~value) violations.push({ id: "2.1.1/2", message: "bit cleared" });
  if (value & 8) violations.push({ id: "4.2.4/D4", message: "FEATURES_OK on legacy" });
  return {
    status,
    reset: false,
    negotiate: false,
    activate: (added & 4) !== 0 && (status & 0x80) === 0,
    violations,
  };
}

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

export function writeLegacyQueueRegister(
  registers: LegacyQueueRegisters,
  write: LegacyQueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): LegacyQueueRegisterOutcome {
  const same = (problems: RuleProblem[] = []) => ({
    registers,
    problems,
    enabled: false,
    stopped: false,
  });
  const refuse = (id: RuleProblem["id"]) =>
    same([{ id, message: "refused", values: {}, action: "ignored" }]);
  const v = write.value >>> 0;
  switch (write.offset) {
    case 0x038:
      return registers.pfn
        ? refuse("4.2.4/D3")
        : { ...same(), registers: { ...registers, num: v } };
    case 0x03c:
      return registers.pfn
        ? refuse("4.2.4/D3")
        : { ...same(), registers: { ...registers, align: v } };
    case 0x040: {
      if (v === 0) {
        return registers.pfn
          ? { ...same(), registers: { ...registers, pfn: 0, base: 0 }, stopped: true }
          : same();
      }
      if (registers.pfn) return refuse("4.2.4/D3");
      // QueueNum first, then the page size and alignment: any order is fair.
      if (!registers.num) return refuse("4.2.4/D2");
      if (!isValidQueueSize(registers.num)) return refuse("2.7/D1");
      if (registers.num > write.max) return refuse("4.2.2.2/9");
      if (!isPow2(write.guestPageSize)) return refuse("4.2.4/D1");
      if (!isPow2(registers.align) || registers.align < 4) return refuse("4.2.4/D1");
      const placed = { ...registers, pfn: v, base: v * write.guestPageSize };
      const problem = checkAreas(legacyQueueView(placed));
      if (problem) return same([problem]);
      return { registers: placed, problems: [], enabled: true, stopped: false };
    }
    default:
      return same();
  }
}

export function probeTransitionalWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(0) >>> 0;
  if (magic !== 0x74726976) {
    return { kind: "rejected", requirement: "4.2.2.2/4", reason: "magic", magic, version: 0 };
  }
  const version = window.read32(4) >>> 0;
  if (version < 1 || version > 2) {
    return { kind: "rejected", requirement: "4.2.2.2/5", reason: "version", magic, version };
  }
  const deviceId = window.read32(8) >>> 0;
  if (!deviceId) return { kind: "empty" };
  return { kind: "device", deviceId, vendorId: window.read32(12) >>> 0, version };
}

export function negotiateLegacyFeatures(window: RegisterWindow, supported: bigint): bigint {
  window.write32(0x014, 0);
  const accepted = BigInt(window.read32(0x010) >>> 0) & (supported % (1n << 32n));
  window.write32(0x024, 0);
  window.write32(0x020, Number(accepted));
  return accepted;
}

export function setupLegacyQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  pageSize = 4096,
): QueueSetup {
  window.read32(0x008); // a register the steps do not name: free
  window.write32(0x030, index);
  const max = window.read32(0x034) >>> 0; // before QueuePFN: free
  const inUse = window.read32(0x040) >>> 0;
  if (inUse) throw new QueueSetupError("busy", index, "QueuePFN", inUse);
  if (!max) throw new QueueSetupError("none", index, "QueueNumMax", 0);
  const limit = Math.min(max, request.size ?? max, request.maxSize ?? 32768, 32768);
  if (!(limit >= 1)) throw new QueueSetupError("too small", index, "size", limit);
  const size = 1 << (31 - Math.clz32(limit));
  const layout = vringLayout(size, pageSize);
  let base = 0;
  try {
    base = allocator.alloc(layout.total, pageSize, { zero: true });
  } catch (cause) {
    throw new QueueSetupError("alloc", index, "allocation", size, { cause });
  }
  window.write32(0x03c, pageSize); // QueueAlign before QueueNum: free
  window.write32(0x038, size);
  window.write32(0x028, pageSize); // GuestPageSize late, but before QueuePFN
  window.write32(0x040, base / pageSize);
  const got = window.read32(0x040) >>> 0;
  if (got !== base / pageSize) {
    allocator.free(base);
    throw new QueueSetupError("refused", index, "QueuePFN read-back", got);
  }
  return {
    size,
    descAddr: base + layout.descOffset,
    availAddr: base + layout.availOffset,
    usedAddr: base + layout.usedOffset,
  };
}

export function stopLegacyQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(0x030, index);
  window.write32(0x040, 0);
  let value = -1;
  for (let polls = 1; polls <= maxPolls; polls++) {
    value = window.read32(0x040) >>> 0;
    if (value === 0) return;
  }
  throw new QueueStopError(index, maxPolls, value, "QueuePFN");
}
