// Mistake: the in-use test comes before the stop, so the QueuePFN 0 that
// stops a queue is refused as a change to a queue in use.
// Source: none.
// Must fail: "QueuePFN 0 stops a queue in use" [4.2.4/D6]

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
  if (registers.pfn !== 0) return no("4.2.4/D3");
  if (write.offset === 0x040 && v === 0) {
    return registers.pfn
      ? { ...none, registers: { ...registers, pfn: 0, base: 0 }, stopped: true }
      : none;
  }
  if (write.offset === 0x038) return { ...none, registers: { ...registers, num: v } };
  if (write.offset === 0x03c) return { ...none, registers: { ...registers, align: v } };
  if (write.offset !== 0x040) return none;
  if (!pow2(write.guestPageSize)) return no("4.2.4/D1");
  if (!pow2(registers.align) || registers.align < 4) return no("4.2.4/D1");
  if (registers.num === 0) return no("4.2.4/D2");
  if (!isValidQueueSize(registers.num)) return no("2.7/D1");
  if (registers.num > write.max) return no("4.2.2.2/9");
  const placed = { ...registers, pfn: v, base: v * write.guestPageSize };
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
