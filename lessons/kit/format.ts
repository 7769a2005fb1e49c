/**
 * How grader messages show things: one formatter per kind of value, so every
 * lesson writes a register, a status byte or a feature word the same way.
 *
 * | formatter        | shows                         | example                                   |
 * | ---------------- | ----------------------------- | ----------------------------------------- |
 * | `word`           | a 32-bit register value       | `0x74726976`                              |
 * | `wordBytes`      | a word and its bytes in memory | `0x76697274, bytes at offsets 0..3 "trive"` |
 * | `offset`         | a window offset               | `0x070`                                   |
 * | `register`       | a register by name            | `Status (0x070)`                          |
 * | `byte`           | a value written to Status     | `0x03`                                    |
 * | `status`         | a device status byte          | `0x0b (ACKNOWLEDGE\|DRIVER\|FEATURES_OK)`  |
 * | `featureWord`    | a 64-bit feature word         | `0x0000000100000200 (VIRTIO_F_VERSION_1, ...)` |
 * | `access`         | one register access           | `32-bit read of Status (0x070) -> 0x0000000b` |
 * | `accesses`       | a numbered list of accesses   | `1. ...; 2. ...`                          |
 * | `accessPattern`  | an access, compactly          | `write32 0x070 0x03`                      |
 * | `outcome`        | what a call did               | `threw DeviceResetError: ...`             |
 * | `violation`      | one conformance log entry     | `§4.2.2.2/2 (broken by the driver) at ...` |
 * | `fields`         | an object, some fields in hex | `{ kind: "rejected", magic: 0x76697274 }` |
 * | `value`          | anything else                 | `4096 (0x1000)`, `"text"`, `undefined`    |
 * | `descFlags`      | descriptor flags by name      | `0x0003 (NEXT\|WRITE)`                    |
 * | `descriptor`     | one descriptor                | `desc 2 { addr 0x40001000, len 512, WRITE }` |
 * | `segments`       | buffers of a chain            | `[0x40001000+16, 0x40002000+512]`         |
 * | `chain`          | a chain as the device sees it | `head 0: readable [...], writable [...] (3 descriptors)` |
 * | `usedElem`       | a used ring element           | `{ id 3, len 512 }`                       |
 * | `ringIdx`        | a free-running ring index     | `0xfffe (slot 6 of 8, 2 before the wrap)`  |
 * | `ringPlace`      | the ring field at an address  | `descriptor 3 len`, `available ring idx`  |
 * | `memoryAccess`   | one guest memory access       | `16-bit store of 0x0005 to available ring idx` |
 * | `interruptBits`  | InterruptStatus bits by event | `0x3 (used buffer\|config change)`        |
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { describe } from "../../course/grader.ts";
import { findRegister, hex3 } from "../../transport/mmio_registers.ts";
import { formatStatus } from "../../virtio/status.ts";
import { featureNames, formatFeatures } from "../../virtio/features.ts";
import type { Violation } from "../../conformance/log.ts";
import type { AccessWidth } from "../../virtio/device.ts";
import { descFlagNames } from "../../virtqueue/inspect.ts";
import {
  descTableSize,
  usedElemOffset,
  VIRTQ_AVAIL_RING_OFFSET,
  VIRTQ_USED_RING_OFFSET,
} from "../../virtqueue/layout.ts";
import { VIRTQ_DESC_SIZE, VIRTQ_USED_ELEM_SIZE } from "../../virtqueue/constants.ts";
import type { BufferSegment, DescriptorChain } from "../../virtqueue/types.ts";
import { hexAddress } from "../../memory/guest_memory.ts";
import type { MemoryAccess } from "./snoop.ts";

/** One register access a driver made through a window (recorded by `mmio.ts`). */
export interface Access {
  /** Read or write. */
  readonly kind: "read" | "write";
  /** Offset from the window base, in bytes. */
  readonly offset: number;
  /** Width in bytes. */
  readonly width: AccessWidth;
  /** The value read or written, unsigned; 0 for a read that threw. */
  readonly value: number;
  /** The access threw (a strict log refused it, or the budget ran out). */
  readonly threw?: boolean;
}

/**
 * Anything, described for a failure message (integers above 9 also in hex,
 * strings quoted, objects compact).
 *
 * @param v The value.
 */
export function value(v: unknown): string {
  return describe(v);
}

/**
 * A 32-bit register value: `0x0000000b`. A negative number, what `| 0` gives
 * for a word with bit 31 set, is shown as such, since it is a bug in itself.
 *
 * @param v The value.
 */
export function word(v: unknown): string {
  if (typeof v !== "number" || !Number.isInteger(v)) return describe(v);
  if (v < 0) return `${v} (negative: a signed 32-bit value, where the register is unsigned)`;
  return `0x${v.toString(16).padStart(8, "0")}`;
}

/**
 * A 32-bit value and its four bytes as they sit in memory, little-endian:
 * `0x76697274, bytes at offsets 0..3 "trive"`.
 *
 * @param v The value.
 */
export function wordBytes(v: unknown): string {
  if (typeof v !== "number" || !Number.isInteger(v)) return describe(v);
  const text = [0, 1, 2, 3].map((i) => (v >>> (8 * i)) & 0xff)
    .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
  return `${word(v)}, bytes at offsets 0..3 "${text}"`;
}

/**
 * A window offset as the spec's register table writes it: `0x070`.
 *
 * @param o Offset in bytes.
 */
export function offset(o: number): string {
  return hex3(o);
}

/**
 * The register at an offset, by its name in §4.2.2: `Status (0x070)`,
 * `0x071 (inside Status)`, `offset 0x0f0 (no register)`, or configuration space.
 *
 * @param o Offset from the window base, in bytes.
 */
export function register(o: number): string {
  if (o >= 0x100) return `configuration space (${hex3(o)})`;
  const aligned = o - (o % 4);
  const reg = findRegister(aligned, 2) ?? findRegister(aligned, 1);
  if (!reg) return `offset ${hex3(o)} (no register)`;
  return aligned === o ? `${reg.name} (${hex3(o)})` : `${hex3(o)} (inside ${reg.name})`;
}

/**
 * A value written to an 8-bit field: `0x03`, or `0x103` when it has bits above the low 8.
 *
 * @param v The value.
 */
export function byte(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(2, "0")}`;
}

/**
 * A device status byte with its bits named: `0x0b (ACKNOWLEDGE|DRIVER|FEATURES_OK)`.
 *
 * @param v The status.
 */
export function status(v: unknown): string {
  if (typeof v !== "number" || !Number.isInteger(v)) return describe(v);
  return v === 0 ? "0x00" : `${byte(v)} (${formatStatus(v & 0xff)})`;
}

/**
 * A 64-bit feature word with its bits named: `0x0000000100000200 (VIRTIO_F_VERSION_1, ...)`.
 *
 * @param v The word (a `bigint`; anything else is described as it is).
 * @param names Names of the device type's own bits, by bit number.
 */
export function featureWord(v: unknown, names: Readonly<Record<number, string>> = {}): string {
  if (typeof v !== "bigint") return describe(v);
  if (v < 0n || v >= 1n << 64n) return `${describe(v)} (not a 64-bit feature word)`;
  const all = featureNames(v, names);
  const named = all.filter((n) => !n.startsWith("bit "));
  const bits = all.filter((n) => n.startsWith("bit ")).map((n) => n.slice(4));
  const parts = [
    ...named.slice(0, 6),
    ...(named.length > 6 ? [`${named.length - 6} more named`] : []),
    ...(bits.length === 0 ? [] : [
      bits.length <= 4
        ? `bit${bits.length > 1 ? "s" : ""} ${bits.join(", ")}`
        : `${bits.length} unnamed bits`,
    ]),
  ];
  return `${formatFeatures(v)}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

/**
 * One access: `32-bit read of Status (0x070) -> 0x0000000b`.
 *
 * @param a The access.
 */
export function access(a: Access): string {
  const refused = a.threw ? " (refused: it threw)" : "";
  const v = `0x${a.value.toString(16).padStart(2 * a.width, "0")}`;
  return a.kind === "read"
    ? `${a.width * 8}-bit read of ${register(a.offset)}${refused || ` -> ${v}`}`
    : `${a.width * 8}-bit write of ${v} to ${register(a.offset)}${refused}`;
}

/**
 * An access in a few characters, for comparing access patterns:
 * `read32 0x070`, `write32 0x070 0x03`.
 *
 * @param a The access.
 */
export function accessPattern(a: Access): string {
  const v = `0x${a.value.toString(16).padStart(2, "0")}`;
  return `${a.kind}${a.width * 8} ${hex3(a.offset)}${a.kind === "write" ? ` ${v}` : ""}`;
}

/**
 * What a call did, returned or threw: `returned 3`, `threw DeviceResetError: ...`.
 *
 * @param o The outcome (`{ returned }` or `{ threw }`).
 */
export function outcome(o: { readonly returned: unknown } | { readonly threw: unknown }): string {
  if ("returned" in o) return `returned ${describe(o.returned)}`;
  const e = o.threw;
  if (!(e instanceof Error)) return `threw ${describe(e)}`;
  const line = e.message.split("\n")[0];
  return `threw ${e.name}: ${line.length > 200 ? `${line.slice(0, 197)}...` : line}`;
}

/**
 * Accesses as a numbered list on one line, shortened after `limit`.
 *
 * @param list The accesses, in order.
 * @param limit How many to show.
 */
export function accesses(list: readonly Access[], limit = 10): string {
  if (list.length === 0) return "no register accesses";
  const shown = list.slice(0, limit).map((a, i) => `${i + 1}. ${access(a)}`);
  if (list.length > limit) shown.push(`... ${list.length - limit} more`);
  return shown.join("; ");
}

/**
 * One conformance log entry: `§4.2.2.2/2 (broken by the driver) at virtio-blk@0x1e000: ...`.
 *
 * @param v The violation.
 */
export function violation(v: Violation): string {
  const message = v.message.length > 240 ? `${v.message.slice(0, 237)}...` : v.message;
  return `§${v.id} (broken by the ${v.role}) at ${v.source || "the machine"}: ${message}`;
}

/**
 * An object with some fields shown by their own formatter, the others as
 * {@linkcode value} does: `{ kind: "rejected", magic: 0x76697274, version: 0 }`.
 * Anything that is not a plain object is described as it is.
 *
 * @param v The value.
 * @param formats Formatters by field name.
 */
export function fields(
  v: unknown,
  formats: Readonly<Record<string, (x: unknown) => string>> = {},
): string {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return describe(v);
  const parts = Object.entries(v as Record<string, unknown>).map(([key, x]) =>
    `${key}: ${(formats[key] ?? describe)(x)}`
  );
  return parts.length ? `{ ${parts.join(", ")} }` : "{}";
}

/**
 * Descriptor flags, the word and its bits by name: `0x0003 (NEXT|WRITE)`,
 * `0x0000 (-)`; unknown bits in hex.
 *
 * @param flags The `flags` field of a descriptor.
 */
export function descFlags(flags: number): string {
  return `0x${(flags & 0xffff).toString(16).padStart(4, "0")} (${descFlagNames(flags & 0xffff)})`;
}

/** A descriptor's four fields, as a formatter takes them (`addr` as a `bigint` above 2^53). */
export interface DescriptorFields {
  /** Index in its table, when known. */
  readonly index?: number;
  /** `addr`. */
  readonly addr: number | bigint;
  /** `len`, in bytes. */
  readonly len: number;
  /** `flags`. */
  readonly flags: number;
  /** `next` (shown only with `VIRTQ_DESC_F_NEXT`). */
  readonly next: number;
}

/**
 * One descriptor: `desc 2 { addr 0x40001000, len 512, NEXT|WRITE, next 3 }`;
 * `next` is shown only when `VIRTQ_DESC_F_NEXT` is set.
 *
 * @param d The descriptor's fields.
 */
export function descriptor(d: DescriptorFields): string {
  const addr = typeof d.addr === "bigint" ? `0x${d.addr.toString(16)}` : address(d.addr);
  const next = d.flags & 1 ? `, next ${d.next}` : "";
  const name = d.index === undefined ? "desc" : `desc ${d.index}`;
  return `${name} { addr ${addr}, len ${d.len}, ${descFlagNames(d.flags & 0xffff)}${next} }`;
}

function address(a: number): string {
  return Number.isFinite(a) ? hexAddress(a) : "beyond 2^53";
}

/**
 * Buffers, as `addr+len`: `[0x40001000+16, 0x40002000+512]`, shortened after `limit`.
 *
 * @param list The buffers, in chain order.
 * @param limit How many to show.
 */
export function segments(list: readonly BufferSegment[], limit = 6): string {
  const shown = list.slice(0, limit).map((s) => `${address(s.addr)}+${s.len}`);
  if (list.length > limit) shown.push(`... ${list.length - limit} more`);
  return `[${shown.join(", ")}]`;
}

/**
 * A chain as the device popped it:
 * `head 0: readable [0x40001000+16], writable [0x40002000+512] (2 descriptors)`.
 *
 * @param c The chain (`null`: nothing popped).
 */
export function chain(c: DescriptorChain | null): string {
  if (c === null) return "no chain";
  const parts = [
    c.readable.length ? `readable ${segments(c.readable)}` : "",
    c.writable.length ? `writable ${segments(c.writable)}` : "",
  ].filter((p) => p !== "");
  const count = `${c.descriptorCount} descriptor${c.descriptorCount === 1 ? "" : "s"}`;
  return `head ${c.head}: ${parts.join(", ") || "no buffers"} (${count}${
    c.indirect ? ", indirect" : ""
  })`;
}

/**
 * A used ring element: `{ id 3, len 512 }`.
 *
 * @param e The element's fields.
 */
export function usedElem(e: { readonly id: number; readonly len: number }): string {
  return `{ id ${e.id}, len ${e.len} }`;
}

/**
 * A guest-physical address, or a list of them, in hex: `0x100001000`,
 * `[0x40000000, 0x40001000]`; a `bigint` shows all its bits. Anything else is
 * described as {@linkcode value} does.
 *
 * @param v An address, or an array of addresses.
 */
export function guestAddress(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(guestAddress).join(", ")}]`;
  if ((typeof v === "number" && Number.isInteger(v) && v >= 0) || typeof v === "bigint") {
    return `0x${v.toString(16)}`;
  }
  return describe(v);
}

/**
 * A free-running 16-bit ring index, with its slot and how near the wrap it is:
 * `0xfffe (slot 6 of 8, 2 before the wrap)`, `0x0001 (slot 1 of 8)`. A value
 * that is no 16-bit index is said to be one.
 *
 * @param idx The index (an `idx` field, `lastAvail`, `lastUsed`...).
 * @param size Queue Size, for the slot (omit to show the index alone).
 */
export function ringIdx(idx: number, size?: number): string {
  if (!Number.isInteger(idx) || idx < 0 || idx > 0xffff) {
    return `${describe(idx)} (not a 16-bit ring index)`;
  }
  const text = `0x${idx.toString(16).padStart(4, "0")}`;
  const notes: string[] = [];
  if (size !== undefined) notes.push(`slot ${idx & (size - 1)} of ${size}`);
  if (idx >= 0xfff0) notes.push(`${0x10000 - idx} before the wrap`);
  return notes.length ? `${text} (${notes.join(", ")})` : text;
}

/** Where a ring's three parts are: what {@linkcode ringPlace} needs to name an address. */
export interface RingPlaces {
  /** Descriptor table. */
  readonly descAddr: number;
  /** Available ring. */
  readonly availAddr: number;
  /** Used ring. */
  readonly usedAddr: number;
  /** Queue Size. */
  readonly size: number;
  /** Indirect tables in use, if any: address and entry count. */
  readonly tables?: readonly { readonly addr: number; readonly entries: number }[];
}

/** The field of a descriptor at a byte offset inside it (0 to 15). */
function descField(offset: number): string {
  return offset < 8 ? "addr" : offset < 12 ? "len" : offset < 14 ? "flags" : "next";
}

/**
 * The ring field at an address: `descriptor 3 len`, `available ring idx`,
 * `available ring slot 2`, `used_event`, `used element 1 id`, `avail_event`,
 * `indirect table 0x40003000 entry 1 flags`; `undefined` outside the ring.
 *
 * @param ring Where the parts are.
 * @param at A guest-physical address.
 */
export function ringPlace(ring: RingPlaces, at: number): string | undefined {
  const { descAddr, availAddr, usedAddr, size } = ring;
  if (at >= descAddr && at < descAddr + descTableSize(size)) {
    const offset = at - descAddr;
    return `descriptor ${Math.floor(offset / VIRTQ_DESC_SIZE)} ${
      descField(offset % VIRTQ_DESC_SIZE)
    }`;
  }
  const ringEnd = VIRTQ_AVAIL_RING_OFFSET + 2 * size;
  if (at >= availAddr && at < availAddr + ringEnd + 2) {
    const offset = at - availAddr;
    if (offset < 2) return "available ring flags";
    if (offset < 4) return "available ring idx";
    if (offset < ringEnd) return `available ring slot ${Math.floor((offset - 4) / 2)}`;
    return "used_event";
  }
  const usedEnd = VIRTQ_USED_RING_OFFSET + VIRTQ_USED_ELEM_SIZE * size;
  if (at >= usedAddr && at < usedAddr + usedEnd + 2) {
    const offset = at - usedAddr;
    if (offset < 2) return "used ring flags";
    if (offset < 4) return "used ring idx";
    if (offset < usedEnd) {
      const elem = Math.floor((offset - VIRTQ_USED_RING_OFFSET) / VIRTQ_USED_ELEM_SIZE);
      return `used element ${elem} ${at - usedAddr - usedElemOffset(elem) < 4 ? "id" : "len"}`;
    }
    return "avail_event";
  }
  for (const t of ring.tables ?? []) {
    if (at >= t.addr && at < t.addr + VIRTQ_DESC_SIZE * t.entries) {
      const offset = at - t.addr;
      return `indirect table ${hexAddress(t.addr)} entry ${Math.floor(offset / VIRTQ_DESC_SIZE)} ${
        descField(offset % VIRTQ_DESC_SIZE)
      }`;
    }
  }
  return undefined;
}

/**
 * One guest memory access: `16-bit store of 0x0005 to available ring idx`,
 * `32-bit load of 0x00000200 from descriptor 0 len`, `view of 512 bytes at 0x40002000`.
 *
 * @param a The access.
 * @param place Names the place of an address (e.g. `(x) => ringPlace(ring, x)`).
 */
export function memoryAccess(
  a: MemoryAccess,
  place: (address: number) => string | undefined = () => undefined,
): string {
  const where = place(a.address) ?? hexAddress(a.address);
  if (a.kind === "view") return `view of ${a.width} bytes at ${where}`;
  if (a.value === null) {
    return `${a.kind === "load" ? "bulk load" : "bulk store"} of ${a.width} bytes ${
      a.kind === "load" ? "from" : "to"
    } ${where}`;
  }
  const v = typeof a.value === "bigint"
    ? `0x${a.value.toString(16)}`
    : Number.isFinite(a.value)
    ? `0x${a.value.toString(16).padStart(2 * a.width, "0")}`
    : "a value beyond 2^53";
  return `${a.width * 8}-bit ${a.kind} of ${v} ${a.kind === "load" ? "from" : "to"} ${where}`;
}

/**
 * `InterruptStatus` or `InterruptACK` bits, with the events they name:
 * `0x3 (used buffer|config change)`, `0x80000001 (used buffer)`, `0x0`.
 *
 * @param v The bits (an unsigned 32-bit value; a negative one is shown unsigned).
 */
export function interruptBits(v: number): string {
  const names = [v & 1 ? "used buffer" : "", v & 2 ? "config change" : ""].filter(Boolean);
  return `0x${(v >>> 0).toString(16)}${names.length ? ` (${names.join("|")})` : ""}`;
}
