// Mistake: a bit set out of order is reported and also refused (not
// stored), where real devices store it: the register file cannot undo a
// write, it only notes what was wrong with it.
// Source: none; refusing a bad write feels safer.
// Must fail: "status bits arrive in the order of §3.1.1" [3.1.1/1]

import type { StatusTransition } from "../../../../transport/device_status.ts";
import { nextDeviceStatus as correct } from "../correct/bit_arithmetic.ts";

export {
  addStatus,
  beginInitialization,
  failDevice,
  resetDevice,
} from "../correct/bit_arithmetic.ts";

const ORDER: [bit: number, before: number][] = [[0x02, 0x01], [0x08, 0x02], [0x04, 0x08]];

export function nextDeviceStatus(current: number, written: number): StatusTransition {
  const t = correct(current, written);
  if (t.reset) return t;
  const added = t.status & ~current;
  let status = t.status;
  for (const [bit, before] of ORDER) {
    if ((added & bit) && !(t.status & before)) status &= ~bit;
  }
  const negotiate = t.negotiate && (status & 0x08) !== 0;
  const activate = t.activate && (status & 0x04) !== 0;
  return { ...t, status, negotiate, activate };
}
