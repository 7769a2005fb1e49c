// Mistake: the area check asked about the modern, packed layout (each part
// right after the last, on its own small alignment) instead of the legacy
// one, so a region whose used ring, on its QueueAlign boundary, runs past
// RAM is accepted.
// Source: none; the device and the driver must agree on vring_size (§2.7.2).
// Must fail: "the area check sees the region the legacy layout places" [2.7.5/D2]

import {
  type LegacyQueueRegisterOutcome,
  type LegacyQueueRegisters,
  type LegacyQueueRegisterWrite,
  legacyQueueView,
} from "../../../../transport/legacy_registers.ts";
import type { QueueAreaCheck, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";
import { isValidQueueSize } from "../../../../virtqueue/layout.ts";

function packed(r: LegacyQueueRegisters): QueueRegisters {
  const view = legacyQueueView(r);
  const avail = r.base + 16 * r.num;
  const used = Math.ceil((avail + 6 + 2 * r.num) / 4) * 4;
  return { ...view, driverLow: avail % 2 ** 32, deviceLow: used % 2 ** 32 };
}

export function writeLegacyQueueRegister(
  registers: LegacyQueueRegisters,
  write: LegacyQueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): LegacyQueueRegisterOutcome {
  const v = write.value >>> 0;
  const none = { registers, problems: [] as RuleProblem[], enabled: false, stopped: false };
  const no = (id: RuleProblem["id"]) => ({
    ...none,
    problems: [{ id, message: "refused", values: {} }],
  });
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (write.offset === 0x040 && v === 0) {
    return registers.pfn
      ? { ...none, registers: { ...registers, pfn: 0, base: 0 }, stopped: true }
      : none;
  }
  if (registers.pfn !== 0) return no("4.2.4/D3");
  if (write.offset === 0x038) return { ...none, registers: { ...registers, num: v } };
  if (write.offset === 0x03c) return { ...none, registers: { ...registers, align: v } };
  if (write.offset !== 0x040) return none;
  if (!pow2(write.guestPageSize)) return no("4.2.4/D1");
  if (!pow2(registers.align) || registers.align < 4) return no("4.2.4/D1");
  if (registers.num === 0) return no("4.2.4/D2");
  if (!isValidQueueSize(registers.num)) return no("2.7/D1");
  if (registers.num > write.max) return no("4.2.2.2/9");
  const placed = { ...registers, pfn: v, base: v * write.guestPageSize };
  const problem = checkAreas(packed(placed));
  return problem ? { ...none, problems: [problem] } : { ...none, registers: placed, enabled: true };
}

export {
  negotiateLegacyFeatures,
  nextLegacyDeviceStatus,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
} from "../correct/straight_line.ts";
