/**
 * The registry of replaceable parts: every mechanism the course teaches, as
 * one function with a contract, by layer and side, with the reference
 * implementation the lab machine uses unless a learner's replaces it.
 *
 * A part's key is `"<layer>.<side>.<name>"`, e.g.
 * `"transport.device.checkRegisterAccess"`; `<name>` is unique across the
 * registry, and it is the name a lesson's `exercise.ts` exports the part
 * under. This one table is what the machine's part types are derived from
 * ({@linkcode MachineParts}), what `lesson.json` → `parts` names, and what
 * `lab boot --mine`, `lab disk --mine`, `lab solution` and every grader's
 * "your code runs the lab machine" check read.
 *
 * @example
 * ```ts
 * import { findPart, PARTS } from "./parts.ts";
 * const part = findPart("transport.driver.probeWindow")!;
 * console.assert(part.layer === "transport" && part.side === "driver");
 * console.assert(PARTS.every((p) => typeof p.reference === "function"));
 * ```
 *
 * @module
 */

import {
  type DriverCoreParts,
  type MmioDeviceParts,
  type MmioDriverParts,
  REFERENCE_DRIVER_CORE_PARTS,
  REFERENCE_MMIO_DEVICE_PARTS,
  REFERENCE_MMIO_DRIVER_PARTS,
} from "./transport/parts.ts";
import {
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
  type SplitRingDeviceParts,
  type SplitRingDriverParts,
} from "./virtqueue/parts.ts";
import {
  type PackedRingDeviceParts,
  type PackedRingDriverParts,
  REFERENCE_PACKED_RING_DEVICE_PARTS,
  REFERENCE_PACKED_RING_DRIVER_PARTS,
} from "./virtqueue/packed/parts.ts";
import {
  type BlockDeviceParts,
  type BlockDriverParts,
  REFERENCE_BLOCK_DEVICE_PARTS,
  REFERENCE_BLOCK_DRIVER_PARTS,
} from "./devices/blk/parts.ts";
import {
  type ConsoleDeviceParts,
  type ConsoleDriverParts,
  REFERENCE_CONSOLE_DEVICE_PARTS,
  REFERENCE_CONSOLE_DRIVER_PARTS,
} from "./devices/console/parts.ts";

/**
 * The packed ring's parts in the registry: the descriptor ring itself and
 * the notification decisions, both halves. The rest of its tables
 * (`virtqueue/packed/parts.ts`: indirect tables, moving the event offsets
 * after each pop and reap, turning notifications off, freeing an id) stay
 * the reference's in the machine until a lesson teaches them and they join
 * here.
 */
export type PackedRingDeviceRegistered = Pick<
  PackedRingDeviceParts,
  | "descAvailablePacked"
  | "walkPackedChain"
  | "pushUsedPacked"
  | "needsInterruptPacked"
  | "enableNotificationsPacked"
>;
/** The driver half's packed parts in the registry (see {@linkcode PackedRingDeviceRegistered}). */
export type PackedRingDriverRegistered = Pick<
  PackedRingDriverParts,
  "addPacked" | "getBufPacked" | "needsKickPacked" | "enableCallbacksPacked"
>;

/** A side of the virtio interface: the device's or the driver's. */
export type PartSide = "device" | "driver";

/**
 * The reference implementation of every replaceable part, by layer and side.
 * Each side is a layer's own parts table (`MmioDeviceParts`, ...).
 */
export interface ReferenceParts {
  /** virtio-mmio (§4.2): the device's register file and the driver's bring-up. */
  readonly transport: { readonly device: MmioDeviceParts; readonly driver: MmioDriverParts };
  /** The split virtqueue (§2.7): both halves of every ring. */
  readonly virtqueue: {
    readonly device: SplitRingDeviceParts;
    readonly driver: SplitRingDriverParts;
  };
  /** The packed virtqueue (§2.8): the descriptor ring, both halves, when VIRTIO_F_RING_PACKED is negotiated. */
  readonly packed: {
    readonly device: PackedRingDeviceRegistered;
    readonly driver: PackedRingDriverRegistered;
  };
  /** virtio-blk (§5.2): the block device's requests and configuration, and its driver's. */
  readonly blk: { readonly device: BlockDeviceParts; readonly driver: BlockDriverParts };
  /** virtio-console (§5.3): receive and transmit chains, configuration, on both sides. */
  readonly console: { readonly device: ConsoleDeviceParts; readonly driver: ConsoleDriverParts };
  /** The driver core (§3.1.1): initializing a device and binding drivers by device ID. */
  readonly core: { readonly driver: DriverCoreParts };
}

/** The registry itself: the reference parts, frozen. */
export const REFERENCE_PARTS: ReferenceParts = Object.freeze({
  transport: Object.freeze({
    device: REFERENCE_MMIO_DEVICE_PARTS,
    driver: REFERENCE_MMIO_DRIVER_PARTS,
  }),
  virtqueue: Object.freeze({
    device: REFERENCE_SPLIT_RING_DEVICE_PARTS,
    driver: REFERENCE_SPLIT_RING_DRIVER_PARTS,
  }),
  packed: Object.freeze({
    device: Object.freeze({
      descAvailablePacked: REFERENCE_PACKED_RING_DEVICE_PARTS.descAvailablePacked,
      walkPackedChain: REFERENCE_PACKED_RING_DEVICE_PARTS.walkPackedChain,
      pushUsedPacked: REFERENCE_PACKED_RING_DEVICE_PARTS.pushUsedPacked,
      needsInterruptPacked: REFERENCE_PACKED_RING_DEVICE_PARTS.needsInterruptPacked,
      enableNotificationsPacked: REFERENCE_PACKED_RING_DEVICE_PARTS.enableNotificationsPacked,
    }),
    driver: Object.freeze({
      addPacked: REFERENCE_PACKED_RING_DRIVER_PARTS.addPacked,
      getBufPacked: REFERENCE_PACKED_RING_DRIVER_PARTS.getBufPacked,
      needsKickPacked: REFERENCE_PACKED_RING_DRIVER_PARTS.needsKickPacked,
      enableCallbacksPacked: REFERENCE_PACKED_RING_DRIVER_PARTS.enableCallbacksPacked,
    }),
  }),
  blk: Object.freeze({
    device: REFERENCE_BLOCK_DEVICE_PARTS,
    driver: REFERENCE_BLOCK_DRIVER_PARTS,
  }),
  console: Object.freeze({
    device: REFERENCE_CONSOLE_DEVICE_PARTS,
    driver: REFERENCE_CONSOLE_DRIVER_PARTS,
  }),
  core: Object.freeze({ driver: REFERENCE_DRIVER_CORE_PARTS }),
});

/** A layer of the registry: `"transport"`, `"virtqueue"`, `"packed"`, `"blk"`, `"console"`, `"core"`. */
export type PartLayer = keyof ReferenceParts;

/** Every key of the registry, `"<layer>.<side>.<name>"`, as a literal type. */
export type PartKey = {
  [L in PartLayer]: {
    [S in keyof ReferenceParts[L] & PartSide]: `${L}.${S}.${
      & keyof ReferenceParts[L][S]
      & string}`;
  }[keyof ReferenceParts[L] & PartSide];
}[PartLayer];

/**
 * Replacements for some parts, shaped like the registry: what
 * `createMachine({ parts })` takes. Anything left out is the reference.
 */
export type MachineParts = {
  readonly [L in PartLayer]?: {
    readonly [S in keyof ReferenceParts[L]]?: Partial<ReferenceParts[L][S]>;
  };
};

/** One entry of the registry. */
export interface PartInfo {
  /** `"<layer>.<side>.<name>"`. */
  readonly key: PartKey;
  /** The layer, e.g. `"transport"`. */
  readonly layer: PartLayer;
  /** The side of the interface the part implements. */
  readonly side: PartSide;
  /** The function's name, unique across the registry (the export name in an exercise). */
  readonly name: string;
  /** The reference implementation. */
  readonly reference: (...args: never[]) => unknown;
}

function entries(): PartInfo[] {
  const out: PartInfo[] = [];
  const names = new Set<string>();
  for (const [layer, sides] of Object.entries(REFERENCE_PARTS)) {
    for (const [side, table] of Object.entries(sides as Record<string, object>)) {
      for (const [name, reference] of Object.entries(table)) {
        if (names.has(name)) {
          throw new Error(`Part name ${name} is registered twice: names must be unique`);
        }
        names.add(name);
        out.push(
          Object.freeze({
            key: `${layer}.${side}.${name}` as PartKey,
            layer: layer as PartLayer,
            side: side as PartSide,
            name,
            reference: reference as PartInfo["reference"],
          }),
        );
      }
    }
  }
  return out;
}

/** Every part, in registry order (layer, then side, then the layer's own order). */
export const PARTS: readonly PartInfo[] = Object.freeze(entries());

const BY_KEY: ReadonlyMap<string, PartInfo> = new Map(PARTS.map((p) => [p.key, p]));
const BY_NAME: ReadonlyMap<string, PartInfo> = new Map(PARTS.map((p) => [p.name, p]));

/**
 * Looks a part up by key (`"transport.driver.probeWindow"`) or by its bare
 * name (`"probeWindow"`, unique across the registry).
 *
 * @param keyOrName A key or a name.
 * @returns The part, or `undefined` when the registry has none by that key or name.
 */
export function findPart(keyOrName: string): PartInfo | undefined {
  return BY_KEY.get(keyOrName) ?? BY_NAME.get(keyOrName);
}

/** A part the registry does not know, or a replacement that is not a function. */
export class PartError extends TypeError {
  /** The key or name given. */
  readonly part: string;

  /**
   * Records which part was asked for and what is wrong with it.
   *
   * @param part The key or name given.
   * @param message What is wrong.
   */
  constructor(part: string, message: string) {
    super(message);
    this.name = "PartError";
    this.part = part;
  }
}

/**
 * Builds the `parts` option of `createMachine` from replacements given by key
 * or name, e.g. the functions of a learner's exercises.
 *
 * @param replacements Pairs of a key (or bare name) and the function to use.
 *   A later pair for the same part wins (a later lesson may provide a part an
 *   earlier one did too).
 * @returns The replacements shaped like the registry.
 * @throws {PartError} When a key is unknown or a replacement is not a function.
 */
export function machineParts(
  replacements: Iterable<readonly [keyOrName: string, fn: unknown]>,
): MachineParts {
  const out: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [keyOrName, fn] of replacements) {
    const part = findPart(keyOrName);
    if (!part) throw new PartError(keyOrName, `No part is registered as ${keyOrName}`);
    if (typeof fn !== "function") {
      throw new PartError(
        keyOrName,
        `The replacement for ${part.key} is ${fn === null ? "null" : typeof fn}, not a function`,
      );
    }
    ((out[part.layer] ??= {})[part.side] ??= {})[part.name] = fn;
  }
  return out as MachineParts;
}

/**
 * Checks that a {@linkcode MachineParts} names only parts of the registry and
 * gives a function for each: code that is not type-checked (a notebook cell,
 * a REPL line) then learns of a misspelt layer or part at once, instead of
 * running the reference without a word.
 *
 * @param parts Replacements, as `createMachine` takes them.
 * @throws {PartError} On an unknown layer, side or part, or a value that is not a function.
 */
export function checkMachineParts(parts: MachineParts | undefined): void {
  if (parts === undefined) return;
  if (typeof parts !== "object" || parts === null) {
    throw new PartError(
      String(parts),
      "parts must be an object such as { transport: { driver: {...} } }",
    );
  }
  const layers = REFERENCE_PARTS as unknown as Record<string, Record<string, object>>;
  for (const [layer, sides] of Object.entries(parts as Record<string, unknown>)) {
    if (sides === undefined) continue;
    if (!Object.hasOwn(layers, layer)) {
      throw new PartError(
        layer,
        `parts.${layer}: no such layer (layers: ${Object.keys(layers).join(", ")})`,
      );
    }
    if (typeof sides !== "object" || sides === null) {
      throw new PartError(layer, `parts.${layer} must be an object of sides`);
    }
    for (const [side, table] of Object.entries(sides as Record<string, unknown>)) {
      if (table === undefined) continue;
      if (!Object.hasOwn(layers[layer], side)) {
        throw new PartError(
          `${layer}.${side}`,
          `parts.${layer}.${side}: no such side (${Object.keys(layers[layer]).join(", ")})`,
        );
      }
      if (typeof table !== "object" || table === null) {
        throw new PartError(
          `${layer}.${side}`,
          `parts.${layer}.${side} must be an object of parts`,
        );
      }
      for (const [name, fn] of Object.entries(table as Record<string, unknown>)) {
        if (fn === undefined) continue;
        const key = `${layer}.${side}.${name}`;
        if (!BY_KEY.has(key)) {
          const elsewhere = BY_NAME.get(name);
          throw new PartError(
            key,
            `parts.${key}: no such part` + (elsewhere ? ` (${name} is ${elsewhere.key})` : ""),
          );
        }
        if (typeof fn !== "function") {
          throw new PartError(
            key,
            `parts.${key} is ${fn === null ? "null" : typeof fn}, not a function`,
          );
        }
      }
    }
  }
}

/**
 * The keys of the parts a {@linkcode MachineParts} replaces, in registry order.
 *
 * @param parts Replacements, as `createMachine` takes them.
 */
export function replacedParts(parts: MachineParts | undefined): PartKey[] {
  if (!parts) return [];
  const sides = parts as Record<string, Record<string, Record<string, unknown>> | undefined>;
  return PARTS.filter((p) => typeof sides[p.layer]?.[p.side]?.[p.name] === "function")
    .map((p) => p.key);
}

/**
 * One side of one layer with the replacements applied over the reference.
 *
 * @param parts Replacements, as `createMachine` takes them.
 * @param layer The layer.
 * @param side The side.
 * @returns A full parts table for that side.
 */
export function resolveParts<L extends PartLayer, S extends keyof ReferenceParts[L]>(
  parts: MachineParts | undefined,
  layer: L,
  side: S,
): ReferenceParts[L][S] {
  const reference = REFERENCE_PARTS[layer][side];
  const given = (parts?.[layer] as Record<PropertyKey, unknown> | undefined)?.[side as PropertyKey];
  return given ? Object.freeze({ ...reference, ...given }) as ReferenceParts[L][S] : reference;
}
