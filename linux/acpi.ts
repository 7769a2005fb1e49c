/**
 * ACPI tables that tell a PC's Linux kernel where the virtio-mmio windows are
 * (ACPI 6.4 §5.2, §19 for AML, §6.4 for resource descriptors).
 *
 * An x86 kernel has no device tree: it finds platform devices in the ACPI
 * namespace. Linux's `virtio_mmio` driver binds to devices whose `_HID` is
 * `LNRO0005` (`MODULE_DEVICE_TABLE(acpi, ...)` in
 * `drivers/virtio/virtio_mmio.c`), reading the window from a
 * `Memory32Fixed` descriptor and the interrupt from an (extended)
 * `Interrupt` descriptor of its `_CRS`, as QEMU's `microvm` machine describes
 * them (`hw/i386/acpi-microvm.c`). So the Linux machine adds one Secondary System Description Table
 * (SSDT) with a `Device` per window under `\_SB`, and a Root System
 * Description Table (RSDT) listing the firmware's own tables plus that SSDT,
 * reached through a Root System Description Pointer (RSDP) handed to the
 * kernel with `acpi_rsdp=`.
 *
 * The AML is encoded here byte by byte; `iasl -d` (Debian's `acpica-tools`)
 * disassembles it back to:
 *
 * ```text
 * Scope (\_SB) {
 *   Device (VR00) {
 *     Name (_HID, "LNRO0005")
 *     Name (_UID, Zero)
 *     Name (_CRS, ResourceTemplate () {
 *       Memory32Fixed (ReadWrite, 0xFEF00000, 0x00000200)
 *       Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { 0x00000014 }
 *     })
 *   }
 * }
 * ```
 *
 * @module
 */

/** Size of the common table header (ACPI 6.4 §5.2.6), in bytes. */
export const ACPI_HEADER_SIZE = 36;
/** Size of a revision-0 (ACPI 1.0) RSDP, in bytes (§5.2.5.3). */
export const RSDP_V1_SIZE = 20;
/** The `_HID` Linux's `virtio_mmio` binds to. */
export const VIRTIO_MMIO_ACPI_HID = "LNRO0005";
/** OEM ID written in every table this module makes. */
export const ACPI_OEM_ID = "VLAB  ";
/** Creator ID written in every table this module makes. */
export const ACPI_CREATOR_ID = "VLAB";

/** One virtio-mmio window as ACPI describes it. */
export interface AcpiMmioDevice {
  /** Guest-physical base address of the window. */
  readonly base: number;
  /** Size of the window, in bytes (0x200 for virtio-mmio). */
  readonly size: number;
  /** Global system interrupt (an IOAPIC input on a PC), level-triggered, active high. */
  readonly gsi: number;
}

// AML opcodes (ACPI 6.4 §20.3).
const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82;
const ROOT_CHAR = 0x5c;

// Resource descriptors (ACPI 6.4 §6.4).
const MEMORY32_FIXED_TAG = 0x86;
const EXTENDED_INTERRUPT_TAG = 0x89;
const END_TAG = 0x79;

const ascii = (text: string): number[] => {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7e || c < 0x20) throw new RangeError(`'${text}' is not printable ASCII`);
    out.push(c);
  }
  return out;
};

const u16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];
const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/**
 * Encodes an AML PkgLength (§20.2.4) for a package whose contents (after the
 * PkgLength itself) are `contentLength` bytes: the encoded value counts the
 * PkgLength bytes too.
 *
 * @param contentLength Bytes that follow the PkgLength.
 * @returns The 1 to 4 PkgLength bytes.
 * @throws {RangeError} If the package is longer than 2^28 - 1 bytes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { amlPkgLength } from "./acpi.ts";
 * assert.deepEqual(amlPkgLength(10), [11]);
 * assert.deepEqual(amlPkgLength(100), [0x46, 0x06]); // 102 = 0x66
 * ```
 */
export function amlPkgLength(contentLength: number): number[] {
  for (let extra = 0; extra < 4; extra++) {
    const total = contentLength + 1 + extra;
    if (extra === 0 && total < 0x40) return [total];
    if (extra > 0 && total < 2 ** (4 + 8 * extra)) {
      const bytes = [(extra << 6) | (total & 0x0f)];
      for (let i = 0; i < extra; i++) bytes.push((total >>> (4 + 8 * i)) & 0xff);
      return bytes;
    }
  }
  throw new RangeError(`AML package of ${contentLength} bytes is too long for a PkgLength`);
}

/**
 * An AML NameSeg: four characters, `A-Z`, `0-9`, `_` (the first not a digit),
 * padded with `_`.
 *
 * @throws {RangeError} For a name that is not a valid NameSeg.
 */
export function amlNameSeg(name: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(name)) throw new RangeError(`'${name}' is not an AML NameSeg`);
  return ascii(name.padEnd(4, "_"));
}

/** An AML integer constant in its shortest encoding (ZeroOp, OneOp, Byte/Word/DWordConst). */
export function amlInteger(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`AML integer ${value} is not a u32`);
  }
  if (value === 0) return [ZERO_OP];
  if (value === 1) return [ONE_OP];
  if (value <= 0xff) return [BYTE_PREFIX, value];
  if (value <= 0xffff) return [WORD_PREFIX, ...u16(value)];
  return [DWORD_PREFIX, ...u32(value)];
}

/** `Name (NAME, value)` where value is already-encoded AML data. */
function amlName(name: string, data: number[]): number[] {
  return [NAME_OP, ...amlNameSeg(name), ...data];
}

/** An AML String (StringPrefix, ASCII, NUL). */
function amlString(text: string): number[] {
  return [STRING_PREFIX, ...ascii(text), 0];
}

/** `Buffer (n) { bytes }`. */
function amlBuffer(bytes: number[]): number[] {
  const body = [...amlInteger(bytes.length), ...bytes];
  return [BUFFER_OP, ...amlPkgLength(body.length), ...body];
}

/**
 * The resource template of one window: `Memory32Fixed (ReadWrite, base,
 * size)`, `Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { gsi }`
 * and the end tag (checksum 0: "valid", §6.4.2.9).
 *
 * @param device The window.
 * @returns The descriptor bytes.
 */
export function mmioResourceTemplate(device: AcpiMmioDevice): number[] {
  return [
    MEMORY32_FIXED_TAG,
    ...u16(9),
    0x01, // read-write
    ...u32(device.base),
    ...u32(device.size),
    EXTENDED_INTERRUPT_TAG,
    ...u16(6),
    0x01, // consumer, level-triggered, active high, exclusive, not wake-capable
    1, // interrupt table length
    ...u32(device.gsi),
    END_TAG,
    0x00,
  ];
}

/** Sets byte 9 of a table (its checksum) so that all its bytes sum to 0 mod 256. */
function finishTable(table: Uint8Array): Uint8Array {
  table[9] = 0;
  table[9] = (256 - acpiChecksum(table)) & 0xff;
  return table;
}

/**
 * The sum of the bytes mod 256: 0 for a table whose checksum is right.
 *
 * @param bytes A table (or the first 20 bytes of an RSDP).
 */
export function acpiChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]) & 0xff;
  return sum;
}

/**
 * A table: the common header (§5.2.6) followed by `body`, with its length and checksum set.
 *
 * @param signature Four characters, e.g. `"SSDT"`.
 * @param revision The table's revision.
 * @param tableId The OEM table ID (at most 8 characters).
 * @param body What follows the header.
 */
export function acpiTable(
  signature: string,
  revision: number,
  tableId: string,
  body: readonly number[],
): Uint8Array {
  if (signature.length !== 4) throw new RangeError(`ACPI signature '${signature}' is not 4 bytes`);
  if (tableId.length > 8) throw new RangeError(`OEM table ID '${tableId}' is over 8 bytes`);
  const table = new Uint8Array(ACPI_HEADER_SIZE + body.length);
  const view = new DataView(table.buffer);
  table.set(ascii(signature), 0);
  view.setUint32(4, table.length, true);
  table[8] = revision;
  table.set(ascii(ACPI_OEM_ID), 10);
  table.set(ascii(tableId.padEnd(8, " ")), 16);
  view.setUint32(24, 1, true); // OEM revision
  table.set(ascii(ACPI_CREATOR_ID), 28);
  view.setUint32(32, 1, true); // creator revision
  table.set(body, ACPI_HEADER_SIZE);
  return finishTable(table);
}

/**
 * The SSDT: under `\_SB`, one `Device (VRnn)` per window with `_HID`
 * `LNRO0005`, `_UID` nn and `_CRS` from {@linkcode mmioResourceTemplate}.
 *
 * @param devices The windows, in the order their devices are numbered.
 * @returns The table bytes (checksummed).
 * @throws {RangeError} For more than 256 windows or a field out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acpiChecksum, virtioMmioSsdt } from "./acpi.ts";
 * const ssdt = virtioMmioSsdt([{ base: 0xfef00000, size: 0x200, gsi: 20 }]);
 * assert.equal(new TextDecoder().decode(ssdt.subarray(0, 4)), "SSDT");
 * assert.equal(acpiChecksum(ssdt), 0);
 * ```
 */
export function virtioMmioSsdt(devices: readonly AcpiMmioDevice[]): Uint8Array {
  if (devices.length > 256) throw new RangeError(`${devices.length} windows; at most 256 fit`);
  const body: number[] = [];
  devices.forEach((device, index) => {
    const name = `VR${index.toString(16).toUpperCase().padStart(2, "0")}`;
    const contents = [
      ...amlNameSeg(name),
      ...amlName("_HID", amlString(VIRTIO_MMIO_ACPI_HID)),
      ...amlName("_UID", amlInteger(index)),
      ...amlName("_CRS", amlBuffer(mmioResourceTemplate(device))),
    ];
    body.push(EXT_OP_PREFIX, DEVICE_OP, ...amlPkgLength(contents.length), ...contents);
  });
  const scope = [ROOT_CHAR, ...amlNameSeg("_SB_"), ...body];
  return acpiTable("SSDT", 2, "VIRTMMIO", [SCOPE_OP, ...amlPkgLength(scope.length), ...scope]);
}

/**
 * An RSDT (§5.2.7): the 32-bit physical addresses of the other tables.
 *
 * @param entries Table addresses (each below 4 GiB).
 */
export function rsdt(entries: readonly number[]): Uint8Array {
  const body: number[] = [];
  for (const address of entries) {
    if (!Number.isInteger(address) || address < 0 || address > 0xffff_ffff) {
      throw new RangeError(`RSDT entry ${address} is not a 32-bit physical address`);
    }
    body.push(...u32(address));
  }
  return acpiTable("RSDT", 1, "VLABRSDT", body);
}

/**
 * A revision-0 RSDP (§5.2.5.3): `"RSD PTR "`, checksum, OEM ID, revision 0, RSDT address.
 *
 * @param rsdtAddress Physical address of the RSDT.
 */
export function rsdpV1(rsdtAddress: number): Uint8Array {
  const rsdp = new Uint8Array(RSDP_V1_SIZE);
  rsdp.set(ascii("RSD PTR "), 0);
  rsdp.set(ascii(ACPI_OEM_ID), 9);
  rsdp[15] = 0;
  new DataView(rsdp.buffer).setUint32(16, rsdtAddress >>> 0, true);
  rsdp[8] = (256 - acpiChecksum(rsdp)) & 0xff;
  return rsdp;
}

/** Reads `length` bytes of guest-physical memory at `address`. */
type ReadBytes = (address: number, length: number) => Uint8Array;

/** The firmware's tables as {@linkcode findFirmwareTables} finds them. */
export interface FirmwareTables {
  /** Where the firmware's RSDP is. */
  readonly rsdpAddress: number;
  /** Where its RSDT is. */
  readonly rsdtAddress: number;
  /** The addresses its RSDT lists. */
  readonly entries: readonly number[];
}

/**
 * Looks for the firmware's RSDP where a PC BIOS puts it (§5.2.5.1: on a
 * 16-byte boundary in the BIOS area 0xE0000-0xFFFFF), checks its checksum and
 * its RSDT's, and returns the RSDT's entries.
 *
 * @param read Reads guest-physical memory.
 * @returns The tables, or `null` while the firmware has not written them (or they are corrupt).
 */
export function findFirmwareTables(read: ReadBytes): FirmwareTables | null {
  const area = read(0xe0000, 0x20000);
  for (let offset = 0; offset + RSDP_V1_SIZE <= area.length; offset += 16) {
    if (
      area[offset] !== 0x52 || area[offset + 1] !== 0x53 || area[offset + 2] !== 0x44 ||
      area[offset + 3] !== 0x20 || area[offset + 4] !== 0x50 || area[offset + 5] !== 0x54 ||
      area[offset + 6] !== 0x52 || area[offset + 7] !== 0x20
    ) continue;
    const rsdp = area.subarray(offset, offset + RSDP_V1_SIZE);
    if (acpiChecksum(rsdp) !== 0) continue;
    const rsdtAddress = new DataView(rsdp.buffer, rsdp.byteOffset, RSDP_V1_SIZE).getUint32(
      16,
      true,
    );
    const head = read(rsdtAddress, ACPI_HEADER_SIZE);
    const headView = new DataView(head.buffer, head.byteOffset, ACPI_HEADER_SIZE);
    const length = headView.getUint32(4, true);
    if (String.fromCharCode(...head.subarray(0, 4)) !== "RSDT" || length < ACPI_HEADER_SIZE) {
      continue;
    }
    const table = read(rsdtAddress, length);
    if (acpiChecksum(table) !== 0) continue;
    const view = new DataView(table.buffer, table.byteOffset, length);
    const entries: number[] = [];
    for (let at = ACPI_HEADER_SIZE; at + 4 <= length; at += 4) {
      entries.push(view.getUint32(at, true));
    }
    return { rsdpAddress: 0xe0000 + offset, rsdtAddress, entries };
  }
  return null;
}

/** The tables {@linkcode layoutAcpiTables} places, and where. */
export interface AcpiLayout {
  /** Address of the new RSDP (what `acpi_rsdp=` names). */
  readonly rsdpAddress: number;
  /** `[address, bytes]` of each table to write: RSDP, RSDT, SSDT. */
  readonly blobs: readonly (readonly [number, Uint8Array])[];
}

/**
 * Places an RSDP, an RSDT (the firmware's entries plus the SSDT) and the SSDT
 * in a reserved range starting at `base`, each 16-byte aligned.
 *
 * @param base Guest-physical address of the range.
 * @param size Bytes available there.
 * @param firmwareEntries The firmware RSDT's entries.
 * @param ssdt The SSDT ({@linkcode virtioMmioSsdt}).
 * @throws {RangeError} If the tables do not fit.
 */
export function layoutAcpiTables(
  base: number,
  size: number,
  firmwareEntries: readonly number[],
  ssdt: Uint8Array,
): AcpiLayout {
  const align = (n: number) => Math.ceil(n / 16) * 16;
  const rsdpAddress = base;
  const rsdtAddress = base + align(RSDP_V1_SIZE);
  const root = rsdt([...firmwareEntries, 0]); // sized with the SSDT's entry
  const ssdtAddress = rsdtAddress + align(root.length);
  if (ssdtAddress + ssdt.length > base + size) {
    throw new RangeError(
      `ACPI tables need ${ssdtAddress + ssdt.length - base} bytes; the range has ${size}`,
    );
  }
  return {
    rsdpAddress,
    blobs: [
      [rsdpAddress, rsdpV1(rsdtAddress)],
      [rsdtAddress, rsdt([...firmwareEntries, ssdtAddress])],
      [ssdtAddress, ssdt],
    ],
  };
}
