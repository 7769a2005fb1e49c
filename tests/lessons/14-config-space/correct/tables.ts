// Correct: table-driven, with the library's names. The device side collects
// rule predicates from a table and keeps the ones that hold; the generation
// counts with modular arithmetic on numbers; the consistent read reuses the
// generation read after one run as the one before the next (one read fewer
// per retry), and the 64-bit read assembles its halves with a DataView.

import type {
  ConfigAccessVerdict,
  ConfigChange,
  ConfigSpaceView,
} from "../../../../transport/config_space.ts";
import {
  ConfigGenerationError,
  type ConsistentConfigReader,
} from "../../../../transport/driver_config.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION,
} from "../../../../transport/mmio_registers.ts";
import type { RegisterWindow, RuleProblem } from "../../../../transport/types.ts";
import type { AccessWidth, ConfigField } from "../../../../virtio/device.ts";
import { hasFeature } from "../../../../virtio/features.ts";
import {
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
} from "../../../../virtio/status.ts";

type Rule = {
  id: RuleProblem["id"];
  says: string;
  holds: (f: ConfigField, o: number, w: number, k: string, s: ConfigSpaceView) => boolean;
};
const natural = (f: ConfigField) => (f.size === 8 ? 4 : f.size);
const RULES: Rule[] = [
  {
    id: "4.2.2.2/3",
    says: "wrong width or alignment",
    holds: (f, o, w) => w !== natural(f) || o % natural(f) !== 0 || o + w > f.offset + f.size,
  },
  {
    id: "2.5.1/1",
    says: "field of a feature not offered",
    holds: (f, _o, _w, _k, s) => f.feature !== undefined && !hasFeature(s.offered, f.feature),
  },
  {
    id: "3.1.1/2",
    says: "written during negotiation",
    holds: (f, _o, _w, k, s) =>
      k === "write" && !!f.writable && !f.anytime &&
      (s.status & (VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK)) ===
        VIRTIO_CONFIG_S_DRIVER,
  },
];

export function checkConfigAccess(
  offset: number,
  width: AccessWidth,
  kind: "read" | "write",
  space: ConfigSpaceView,
): ConfigAccessVerdict {
  if (offset + width > space.size) {
    return {
      serve: false,
      problems: [{ id: "4.2.2.2/1", message: "beyond the end", values: { offset } }],
    };
  }
  const field = space.layout.find((f) => f.offset <= offset && offset - f.offset < f.size);
  const problems = field
    ? RULES.filter((r) => r.holds(field, offset, width, kind, space))
      .map((r) => ({ id: r.id, message: `${field.name}: ${r.says}`, values: { offset, width } }))
    : [];
  return { serve: kind === "read" || field?.writable === true, problems };
}

export function configChanged(configGeneration: number, status: number): ConfigChange {
  return {
    configGeneration: (configGeneration + 1) % 2 ** 32,
    notify: (status & VIRTIO_CONFIG_S_DRIVER_OK) === VIRTIO_CONFIG_S_DRIVER_OK,
  };
}

export function readConfigConsistent<R>(
  window: RegisterWindow,
  read: () => R,
  maxTries = 100,
): R {
  if (Number.isNaN(maxTries) || maxTries < 1) throw new RangeError("maxTries must be >= 1");
  const generation = () => window.read32(VIRTIO_MMIO_CONFIG_GENERATION) >>> 0;
  let after = generation();
  for (let tries = 1;; tries++) {
    const before = after;
    const result = read();
    after = generation();
    if (after === before) return result;
    if (tries >= maxTries) throw new ConfigGenerationError(tries, before, after);
  }
}

export function readConfig64(
  window: RegisterWindow,
  offset: number,
  consistent: ConsistentConfigReader,
): bigint {
  const at = VIRTIO_MMIO_CONFIG + offset;
  return consistent(window, () => {
    const bytes = new DataView(new ArrayBuffer(8));
    bytes.setUint32(0, window.read32(at), true);
    bytes.setUint32(4, window.read32(at + 4), true);
    return bytes.getBigUint64(0, true);
  });
}
