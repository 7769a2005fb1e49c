// Correct: straight-line, as Linux writes it: vm_get's two readl for a u64
// under virtio_cread64, and __virtio_cread_many's do/while on the generation;
// the device side as a list of early returns, QEMU-style.

import type {
  ConfigAccessVerdict,
  ConfigChange,
  ConfigSpaceView,
} from "../../../../transport/config_space.ts";
import {
  ConfigGenerationError,
  type ConsistentConfigReader,
} from "../../../../transport/driver_config.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import type { AccessWidth } from "../../../../virtio/device.ts";
import type { RuleProblem } from "../../../../transport/types.ts";

export function checkConfigAccess(
  offset: number,
  width: AccessWidth,
  kind: "read" | "write",
  space: ConfigSpaceView,
): ConfigAccessVerdict {
  if (offset + width > space.size) {
    return {
      serve: false,
      problems: [{ id: "4.2.2.2/1", message: `access past ${space.size} bytes`, values: {} }],
    };
  }
  const problems: RuleProblem[] = [];
  const field = space.layout.find((f) => offset >= f.offset && offset < f.offset + f.size);
  if (field) {
    const w = field.size === 8 ? 4 : field.size;
    if (width !== w || offset % w !== 0 || offset + width > field.offset + field.size) {
      problems.push({
        id: "4.2.2.2/3",
        message: `${field.name} takes ${w}-byte accesses`,
        values: {},
      });
    }
    if (field.feature !== undefined && (space.offered >> BigInt(field.feature) & 1n) === 0n) {
      problems.push({
        id: "2.5.1/1",
        message: `${field.name} needs an unoffered feature`,
        values: {},
      });
    }
  }
  if (kind === "read") return { serve: true, problems };
  if (!field || !field.writable) return { serve: false, problems };
  if ((space.status & 0x02) && !(space.status & 0x08) && !field.anytime) {
    problems.push({
      id: "3.1.1/2",
      message: `${field.name} written while negotiating`,
      values: {},
    });
  }
  return { serve: true, problems };
}

export function configChanged(configGeneration: number, status: number): ConfigChange {
  return { configGeneration: (configGeneration + 1) >>> 0, notify: (status & 0x04) !== 0 };
}

export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  if (!(maxTries >= 1)) throw new RangeError(`maxTries ${maxTries}`);
  let before = 0, after = 0;
  for (let i = 0; i < maxTries; i++) {
    before = window.read32(0x0fc);
    const value = read();
    after = window.read32(0x0fc);
    if (before === after) return value;
  }
  throw new ConfigGenerationError(maxTries, before, after);
}

export function readConfig64(
  window: RegisterWindow,
  offset: number,
  consistent: ConsistentConfigReader,
): bigint {
  return consistent(window, () => {
    const low = window.read32(0x100 + offset) >>> 0;
    const high = window.read32(0x100 + offset + 4) >>> 0;
    return BigInt(high) * 0x1_0000_0000n + BigInt(low);
  });
}
