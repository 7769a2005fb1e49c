// Mistake: a GuestPageSize never written is taken as 4096, the common page
// size, instead of refusing the QueuePFN it cannot locate.
// Source: none; a register file that guesses where the driver never said.
// Must fail: "QueuePFN needs GuestPageSize and QueueAlign, powers of two" [4.2.4/D1]

import {
  type LegacyQueueRegisterOutcome,
  type LegacyQueueRegisters,
  type LegacyQueueRegisterWrite,
  legacyQueueView,
} from "../../../../transport/legacy_registers.ts";
import type { QueueAreaCheck } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";
import { isValidQueueSize } from "../../../../virtqueue/layout.ts";

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
  const page = write.guestPageSize || 4096;
  if (!pow2(page)) return no("4.2.4/D1");
  if (!pow2(registers.align) || registers.align < 4) return no("4.2.4/D1");
  if (registers.num === 0) return no("4.2.4/D2");
  if (!isValidQueueSize(registers.num)) return no("2.7/D1");
  if (registers.num > write.max) return no("4.2.2.2/9");
  const placed = { ...registers, pfn: v, base: v * page };
  const problem = checkAreas(legacyQueueView(placed));
  return problem ? { ...none, problems: [problem] } : { ...none, registers: placed, enabled: true };
}

export {
  negotiateLegacyFeatures,
  nextLegacyDeviceStatus,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
} from "../correct/straight_line.ts";
