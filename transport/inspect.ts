/**
 * Objects worth looking at, with a readable text form in the REPL
 * (`Deno.customInspect`) and a rich HTML form in Jupyter
 * (`Symbol.for("Jupyter.display")`): the register window of a device, the
 * status byte (§2.1) and a 64-bit feature word (§2.2).
 *
 * @module
 */

import { formatStatus, STATUS_BITS } from "../virtio/status.ts";
import { featureNames, formatFeatures, RESERVED_FEATURE_NAMES } from "../virtio/features.ts";
import { deviceIdName } from "../virtio/device_ids.ts";
import { htmlTable } from "../format/html.ts";

const INSPECT = Symbol.for("Deno.customInspect");
const JUPYTER = Symbol.for("Jupyter.display");

/**
 * The device status byte with its bits named (§2.1).
 *
 * @example
 * ```ts
 * import { StatusByte } from "./inspect.ts";
 * String(new StatusByte(0x0b)); // "0x0b ACKNOWLEDGE|DRIVER|FEATURES_OK"
 * ```
 */
export class StatusByte {
  /** The 8-bit status value. */
  readonly value: number;

  /**
   * Wraps a status value (only the low 8 bits count).
   *
   * @param value The 8-bit status value.
   */
  constructor(value: number) {
    this.value = value & 0xff;
  }

  /** Whether every bit of `mask` is set. */
  has(mask: number): boolean {
    return (this.value & mask) === mask;
  }

  /** Such as `"0x0b ACKNOWLEDGE|DRIVER|FEATURES_OK"`. */
  toString(): string {
    return `0x${this.value.toString(16).padStart(2, "0")} ${formatStatus(this.value)}`;
  }

  /** Text form for the REPL. */
  [INSPECT](): string {
    return `StatusByte ${this.toString()}`;
  }

  /** Rich form for Jupyter: one cell per defined bit, set bits highlighted. */
  [JUPYTER](): Record<string, string> {
    const cells = STATUS_BITS.map((b) => {
      const on = (this.value & b.bit) !== 0;
      const style = on ? "background:#2e7d32;color:#fff" : "color:#999";
      return `<td style="padding:2px 6px;${style}" title="0x${b.bit.toString(16)}">${b.name}</td>`;
    }).join("");
    return {
      "text/plain": this.toString(),
      "text/html": `<table><tr><th>status 0x${
        this.value.toString(16).padStart(2, "0")
      }</th>${cells}</tr></table>`,
    };
  }
}

/**
 * A 64-bit feature word with its bits named (§2.2, chapter 6).
 *
 * @example
 * ```ts
 * import { FeatureSet } from "./inspect.ts";
 * new FeatureSet(0x1_0000_0000n).names; // ["VIRTIO_F_VERSION_1"]
 * ```
 */
export class FeatureSet {
  /** The feature word. */
  readonly word: bigint;
  /** Names of the device-specific bits, by bit number. */
  readonly deviceNames: Readonly<Record<number, string>>;

  /**
   * Wraps a feature word, with names for its device-specific bits.
   *
   * @param word The 64-bit feature word.
   * @param deviceNames Names of the device-specific bits.
   */
  constructor(word: bigint, deviceNames: Readonly<Record<number, string>> = {}) {
    this.word = word;
    this.deviceNames = deviceNames;
  }

  /** Names of the set bits, in bit order. */
  get names(): string[] {
    return featureNames(this.word, this.deviceNames);
  }

  /** The two 32-bit halves as `DeviceFeatures` shows them for selector 0 and 1. */
  get words(): [number, number] {
    return [Number(this.word & 0xffff_ffffn), Number(this.word >> 32n)];
  }

  /** Such as `"0x0000000100000244 VIRTIO_BLK_F_SEG_MAX, ..."`. */
  toString(): string {
    const names = this.names;
    return `${formatFeatures(this.word)}${names.length ? ` ${names.join(", ")}` : " (none)"}`;
  }

  /** Text form for the REPL. */
  [INSPECT](): string {
    return `FeatureSet ${this.toString()}`;
  }

  /** Rich form for Jupyter: a row per set bit, with selector and bit within the word. */
  [JUPYTER](): Record<string, string> {
    const rows: string[][] = [];
    for (let bit = 0; bit < 64; bit++) {
      if ((this.word & (1n << BigInt(bit))) === 0n) continue;
      const name = this.deviceNames[bit] ?? RESERVED_FEATURE_NAMES[bit] ?? `bit ${bit}`;
      rows.push([String(bit), String(bit >> 5), String(bit & 31), name]);
    }
    return {
      "text/plain": this.toString(),
      "text/html": htmlTable({
        kind: "features",
        caption: `features ${formatFeatures(this.word)}`,
        head: ["bit", "*FeaturesSel", "bit in word", "name"],
        rows: rows.map(([bit, sel, inWord, name]) => [bit, sel, inWord, { code: name }]),
      }),
    };
  }
}

/** One queue's registers in a {@linkcode MmioRegisterSnapshot}. */
export interface QueueSnapshot {
  /** Queue index. */
  readonly index: number;
  /** `QueueNumMax`. */
  readonly numMax: number;
  /** `QueueNum` as written (0: not written). */
  readonly num: number;
  /** `QueueReady`. */
  readonly ready: boolean;
  /** Descriptor Area address. */
  readonly desc: number;
  /** Driver Area address. */
  readonly driver: number;
  /** Device Area address. */
  readonly device: number;
  /** Whether the device is processing the queue. */
  readonly live: boolean;
  /** The requirement id that broke the queue, or `null`. */
  readonly broken: string | null;
  /** Available buffer notifications received. */
  readonly notifications: number;
  /** Used buffer notifications sent. */
  readonly interrupts: number;
  /** Legacy (Version 1) only: `QueueAlign` in bytes and `QueuePFN` as the device holds them. */
  readonly legacy?: { readonly align: number; readonly pfn: number };
}

/** The fields of a {@linkcode MmioRegisterSnapshot}. */
export interface MmioRegisterSnapshotData {
  /** The window's name, e.g. `"virtio-blk@0x1e000"`. */
  readonly name: string;
  /** `MagicValue`. */
  readonly magic: number;
  /** `Version`. */
  readonly version: number;
  /** `DeviceID`. */
  readonly deviceId: number;
  /** `VendorID`. */
  readonly vendorId: number;
  /** All 64 offered feature bits. */
  readonly deviceFeatures: bigint;
  /** All 64 bits the driver wrote to `DriverFeatures`. */
  readonly driverFeatures: bigint;
  /** The features in force after FEATURES_OK. */
  readonly negotiatedFeatures: bigint;
  /** Names of device-specific feature bits. */
  readonly featureNames: Readonly<Record<number, string>>;
  /** `Status`. */
  readonly status: number;
  /** `InterruptStatus`. */
  readonly interruptStatus: number;
  /** `ConfigGeneration`. */
  readonly configGeneration: number;
  /** `QueueSel`. */
  readonly queueSel: number;
  /** Every queue. */
  readonly queues: readonly QueueSnapshot[];
  /** Legacy (Version 1) only: `GuestPageSize` as written, in bytes (0: never written). */
  readonly guestPageSize?: number;
}

/**
 * A side-effect-free picture of one virtio-mmio window: what the driver would
 * read, plus what it wrote to write-only registers.
 */
export class MmioRegisterSnapshot implements MmioRegisterSnapshotData {
  readonly name!: string;
  readonly magic!: number;
  readonly version!: number;
  readonly deviceId!: number;
  readonly vendorId!: number;
  readonly deviceFeatures!: bigint;
  readonly driverFeatures!: bigint;
  readonly negotiatedFeatures!: bigint;
  readonly featureNames!: Readonly<Record<number, string>>;
  readonly status!: number;
  readonly interruptStatus!: number;
  readonly configGeneration!: number;
  readonly queueSel!: number;
  readonly queues!: readonly QueueSnapshot[];
  readonly guestPageSize?: number;

  /**
   * Captures register values taken by `MmioDeviceTransport.inspect()`.
   *
   * @param data The register values.
   */
  constructor(data: MmioRegisterSnapshotData) {
    Object.assign(this, data);
  }

  /** The status byte, with its bits named. */
  get statusByte(): StatusByte {
    return new StatusByte(this.status);
  }

  /** The offered features, with their bits named. */
  get offered(): FeatureSet {
    return new FeatureSet(this.deviceFeatures, this.featureNames);
  }

  /** The negotiated features, with their bits named. */
  get negotiated(): FeatureSet {
    return new FeatureSet(this.negotiatedFeatures, this.featureNames);
  }

  #rows(): [string, string, string][] {
    const h = (n: number, width = 8) => `0x${(n >>> 0).toString(16).padStart(width, "0")}`;
    return [
      ["0x000", "MagicValue", `${h(this.magic)} ("${ascii(this.magic)}")`],
      ["0x004", "Version", String(this.version)],
      ["0x008", "DeviceID", `${this.deviceId} (${deviceIdName(this.deviceId)})`],
      ["0x00c", "VendorID", h(this.vendorId)],
      ["0x010", "DeviceFeatures", this.offered.toString()],
      [
        "0x020",
        "DriverFeatures",
        new FeatureSet(this.driverFeatures, this.featureNames).toString(),
      ],
      ["", "(negotiated)", this.negotiated.toString()],
      // A legacy window has GuestPageSize, and no ConfigGeneration (§4.2.4).
      ...(this.version === 1
        ? [["0x028", "GuestPageSize", String(this.guestPageSize ?? 0)] as [string, string, string]]
        : []),
      ["0x030", "QueueSel", String(this.queueSel)],
      [
        "0x060",
        "InterruptStatus",
        `${h(this.interruptStatus)}${interruptNames(this.interruptStatus)}`,
      ],
      ["0x070", "Status", this.statusByte.toString()],
      ...(this.version === 1
        ? []
        : [["0x0fc", "ConfigGeneration", String(this.configGeneration)] as [
          string,
          string,
          string,
        ]]),
    ];
  }

  /** A text table of the registers and queues. */
  format(): string {
    const lines = [`${this.name}: virtio-mmio window`];
    for (const [off, name, value] of this.#rows()) {
      lines.push(`  ${off.padEnd(5)} ${name.padEnd(17)} ${value}`);
    }
    for (const q of this.queues) {
      lines.push(
        `  queue ${q.index}: max ${q.numMax}, num ${q.num}, ` +
          (q.legacy
            ? `align ${q.legacy.align}, pfn 0x${q.legacy.pfn.toString(16)}`
            : `ready ${q.ready ? 1 : 0}`) +
          `${q.live ? ", live" : ""}${q.broken ? `, broken by §${q.broken}` : ""}` +
          ` desc ${hexAddr(q.desc)} driver ${hexAddr(q.driver)} device ${hexAddr(q.device)}` +
          ` (${q.notifications} notifications, ${q.interrupts} interrupts)`,
      );
    }
    return lines.join("\n");
  }

  /** Text form for the REPL. */
  [INSPECT](): string {
    return this.format();
  }

  /** Rich form for Jupyter. */
  [JUPYTER](): Record<string, string> {
    const registers = htmlTable({
      kind: "register-window",
      caption: `${this.name}: virtio-mmio registers`,
      head: ["offset", "register", "value"],
      rows: this.#rows().map(([off, name, value]) => [{ code: off }, name, { code: value }]),
    });
    const queues = htmlTable({
      kind: "queues",
      caption: "queues",
      head: [
        "#",
        "QueueNumMax",
        "QueueNum",
        "QueueReady",
        "desc",
        "driver",
        "device",
        "notifications",
        "interrupts",
        "state",
      ],
      rows: this.queues.map((q) => [
        String(q.index),
        String(q.numMax),
        String(q.num),
        q.ready ? "1" : "0",
        { code: hexAddr(q.desc) },
        { code: hexAddr(q.driver) },
        { code: hexAddr(q.device) },
        String(q.notifications),
        String(q.interrupts),
        q.broken ? `broken (§${q.broken})` : q.live ? "live" : "",
      ]),
    });
    return { "text/plain": this.format(), "text/html": registers + queues };
  }
}

function ascii(word: number): string {
  let s = "";
  for (let i = 0; i < 4; i++) {
    const c = (word >>> (8 * i)) & 0xff;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ".";
  }
  return s;
}

function interruptNames(status: number): string {
  const names = [(status & 1) && "used buffer", (status & 2) && "config change"].filter(Boolean);
  return names.length ? ` (${names.join(", ")})` : "";
}

function hexAddr(n: number): string {
  return Number.isFinite(n) ? `0x${n.toString(16)}` : "beyond 2^53";
}
