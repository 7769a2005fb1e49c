// Correct: takes every freedom the contracts leave. The device side reports
// a broken access's problems in another order, in its own words, with
// values and actions, and names a padding byte's access nothing; the
// generation steps by 3 (never back to a value within four changes); the
// consistent read makes an extra ConfigGeneration read before it starts and
// checks maxTries with a while loop; readConfig64 shifts halves as bigints.

import type {
  ConfigAccessVerdict,
  ConfigChange,
  ConfigSpaceView,
} from "../../../../transport/config_space.ts";
import {
  ConfigGenerationError,
  type ConsistentConfigReader,
} from "../../../../transport/driver_config.ts";
import type { RegisterWindow, RuleProblem } from "../../../../transport/types.ts";
import type { AccessWidth } from "../../../../virtio/device.ts";

export function checkConfigAccess(
  offset: number,
  width: AccessWidth,
  kind: "read" | "write",
  space: ConfigSpaceView,
): ConfigAccessVerdict {
  const end = offset + width;
  if (end > space.size) {
    return {
      serve: false,
      problems: [{
        id: "4.2.2.2/1",
        message: `The driver ${kind}s bytes ${offset} to ${end - 1}; the space has ${space.size}.`,
        values: { offset, width, size: space.size },
        action: kind === "read" ? "0 returned" : "dropped",
      }],
    };
  }
  const field = space.layout.find((f) => offset - f.offset >= 0 && offset - f.offset < f.size);
  if (!field) return { serve: kind === "read", problems: [] };
  const problems: RuleProblem[] = [];
  const negotiating = (space.status & 0x0a) === 0x02;
  if (kind === "write" && field.writable && !field.anytime && negotiating) {
    problems.push({ id: "3.1.1/2", message: "No config writes before FEATURES_OK.", values: {} });
  }
  if (field.feature !== undefined && ((space.offered >> BigInt(field.feature)) & 1n) !== 1n) {
    problems.push({ id: "2.5.1/1", message: `No ${field.name} on this device.`, values: {} });
  }
  const unit = Math.min(field.size, 4);
  const fits = width === unit && offset % unit === 0 && end <= field.offset + field.size;
  if (!fits) {
    problems.push({ id: "4.2.2.2/3", message: `Use ${unit * 8}-bit accesses.`, values: { width } });
  }
  return { serve: kind === "read" || !!field.writable, problems };
}

export function configChanged(configGeneration: number, status: number): ConfigChange {
  return { configGeneration: (configGeneration + 3) >>> 0, notify: (status & 4) === 4 };
}

export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  if (!(maxTries >= 1)) throw new RangeError(`Cannot try ${maxTries} times`);
  window.read32(0x0fc); // a look before starting: free
  let attempts = 0;
  let before = 0;
  let after = 0;
  while (attempts < maxTries) {
    attempts++;
    before = window.read32(0x0fc) >>> 0;
    const snapshot = read();
    after = window.read32(0x0fc) >>> 0;
    if (after === before) return snapshot;
  }
  throw new ConfigGenerationError(attempts, before, after);
}

export function readConfig64(
  window: RegisterWindow,
  offset: number,
  consistent: ConsistentConfigReader,
): bigint {
  const halves = consistent(window, () => [
    window.read32(0x100 + offset) >>> 0,
    window.read32(0x104 + offset) >>> 0,
  ]);
  return (BigInt(halves[1]) << 32n) | BigInt(halves[0]);
}
