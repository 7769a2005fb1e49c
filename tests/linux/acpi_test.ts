// Tests for linux/acpi.ts: the SSDT's AML byte by byte, checksums, PkgLength
// encodings, the RSDP/RSDT pair, finding the firmware's tables in guest
// memory, and (when Debian's acpica-tools is installed) `iasl -d`'s reading
// of the SSDT.

import assert from "node:assert/strict";
import {
  acpiChecksum,
  amlInteger,
  amlNameSeg,
  amlPkgLength,
  findFirmwareTables,
  layoutAcpiTables,
  mmioResourceTemplate,
  rsdpV1,
  rsdt,
  virtioMmioSsdt,
} from "../../linux/acpi.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";

const WINDOWS = [
  { base: 0xfef0_0000, size: 0x200, gsi: 20 },
  { base: 0xfef0_0200, size: 0x200, gsi: 21 },
  { base: 0xfef0_0400, size: 0x200, gsi: 22 },
];

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("PkgLength takes 1 byte below 64 and counts its own bytes above", () => {
  assert.deepEqual(amlPkgLength(0), [1]);
  assert.deepEqual(amlPkgLength(62), [63]);
  // 63 content bytes + 2 PkgLength bytes = 65 = 0x41: lead 0x41 & 0x0f | 1 << 6, then 0x41 >> 4.
  assert.deepEqual(amlPkgLength(63), [0x41, 0x04]);
  assert.deepEqual(amlPkgLength(4093), [0x4f, 0xff]); // 4095, the largest 2-byte length
  assert.deepEqual(amlPkgLength(4094), [0x81, 0x00, 0x01]); // 4097 = 0x1001
  for (const n of [0, 10, 62, 63, 100, 4093, 4094, 70_000]) {
    const bytes = amlPkgLength(n);
    const extra = bytes[0] >> 6;
    assert.equal(bytes.length, extra + 1);
    let value = extra === 0 ? bytes[0] & 0x3f : bytes[0] & 0x0f;
    for (let i = 1; i < bytes.length; i++) value |= bytes[i] << (4 + 8 * (i - 1));
    assert.equal(value, n + bytes.length, `PkgLength of ${n}`);
  }
});

Deno.test("integers take their shortest encoding and names are four characters", () => {
  assert.deepEqual(amlInteger(0), [0x00]);
  assert.deepEqual(amlInteger(1), [0x01]);
  assert.deepEqual(amlInteger(2), [0x0a, 2]);
  assert.deepEqual(amlInteger(0x1234), [0x0b, 0x34, 0x12]);
  assert.deepEqual(amlInteger(0xfef00000), [0x0c, 0x00, 0x00, 0xf0, 0xfe]);
  assert.deepEqual(amlNameSeg("_SB"), [0x5f, 0x53, 0x42, 0x5f]);
  assert.throws(() => amlNameSeg("1ABC"), RangeError);
  assert.throws(() => amlNameSeg("TOOLONG"), RangeError);
});

Deno.test("a window's resource template is Memory32Fixed, an extended Interrupt and the end tag", () => {
  assert.deepEqual(mmioResourceTemplate(WINDOWS[1]), [
    0x86,
    0x09,
    0x00,
    0x01,
    0x00,
    0x02,
    0xf0,
    0xfe,
    0x00,
    0x02,
    0x00,
    0x00,
    0x89,
    0x06,
    0x00,
    0x01,
    0x01,
    21,
    0x00,
    0x00,
    0x00,
    0x79,
    0x00,
  ]);
});

Deno.test("the SSDT has a valid header, checksum and one LNRO0005 device per window", () => {
  const ssdt = virtioMmioSsdt(WINDOWS);
  const view = new DataView(ssdt.buffer);
  assert.equal(text(ssdt.subarray(0, 4)), "SSDT");
  assert.equal(view.getUint32(4, true), ssdt.length);
  assert.equal(acpiChecksum(ssdt), 0);
  assert.equal(text(ssdt.subarray(10, 16)), "VLAB  ");
  assert.equal(text(ssdt.subarray(16, 24)), "VIRTMMIO");
  // Scope (\_SB) right after the header.
  assert.equal(ssdt[36], 0x10);
  const body = text(ssdt.subarray(36));
  assert.equal(body.split("LNRO0005").length - 1, 3);
  for (const name of ["VR00", "VR01", "VR02"]) assert.ok(body.includes(name), name);
  // Each device: ExtOpPrefix DeviceOp PkgLength NameSeg, its _CRS holds the window.
  for (const [index, window] of WINDOWS.entries()) {
    const at = body.indexOf(`VR0${index}`);
    assert.equal(ssdt[36 + at - 3], 0x5b);
    assert.equal(ssdt[36 + at - 2], 0x82);
    const crs = body.indexOf("_CRS", at);
    const template = mmioResourceTemplate(window);
    // Name (_CRS, Buffer (n) { template }): NameOp, "_CRS", BufferOp, PkgLength, BytePrefix n.
    const start = 36 + crs + 4 + 1 + 1 + 2;
    assert.deepEqual([...ssdt.subarray(start, start + template.length)], template);
  }
});

Deno.test("a corrupted byte makes the checksum non-zero", () => {
  const ssdt = virtioMmioSsdt(WINDOWS);
  ssdt[50] ^= 0x40;
  assert.notEqual(acpiChecksum(ssdt), 0);
});

Deno.test("RSDP and RSDT point at the tables, with valid checksums", () => {
  const rsdp = rsdpV1(0x0700_0020);
  assert.equal(rsdp.length, 20);
  assert.equal(text(rsdp.subarray(0, 8)), "RSD PTR ");
  assert.equal(acpiChecksum(rsdp), 0);
  assert.equal(new DataView(rsdp.buffer).getUint32(16, true), 0x0700_0020);
  const root = rsdt([0x7ffff80, 0x7fff610]);
  assert.equal(acpiChecksum(root), 0);
  assert.equal(root.length, 36 + 8);
  assert.equal(new DataView(root.buffer).getUint32(40, true), 0x7fff610);
});

/** RAM holding a firmware RSDP in the BIOS area and its RSDT, as SeaBIOS leaves them. */
function firmwareMemory(): { memory: GuestMemory; rsdpAt: number; entries: number[] } {
  const memory = new GuestMemory(0x0800_0000);
  const entries = [0x7ffff80, 0x7fff610];
  const rsdtAt = 0x7ffe3f0;
  memory.write(rsdtAt, rsdt(entries));
  const rsdpAt = 0xf67c0;
  memory.write(rsdpAt, rsdpV1(rsdtAt));
  return { memory, rsdpAt, entries };
}

Deno.test("the firmware's tables are found in the BIOS area, and only with valid checksums", () => {
  const { memory, rsdpAt, entries } = firmwareMemory();
  const read = (a: number, n: number) => memory.bytes(a, n);
  assert.deepEqual(findFirmwareTables(read), {
    rsdpAddress: rsdpAt,
    rsdtAddress: 0x7ffe3f0,
    entries,
  });
  memory.writeU8(0x7ffe3f0 + 37, memory.readU8(0x7ffe3f0 + 37) ^ 1); // RSDT corrupt
  assert.equal(findFirmwareTables(read), null);
  assert.equal(findFirmwareTables((a, n) => new GuestMemory(0x0800_0000).bytes(a, n)), null);
});

Deno.test("the layout chains RSDP → RSDT (firmware's entries + SSDT) → SSDT inside the range", () => {
  const ssdt = virtioMmioSsdt(WINDOWS);
  const layout = layoutAcpiTables(0x0700_0000, 0x1_0000, [0x7ffff80, 0x7fff610], ssdt);
  const memory = new GuestMemory(0x0800_0000);
  for (const [address, bytes] of layout.blobs) {
    assert.equal(address % 16, 0);
    assert.ok(address >= 0x0700_0000 && address + bytes.length <= 0x0701_0000);
    memory.write(address, bytes);
  }
  assert.equal(layout.rsdpAddress, 0x0700_0000);
  const rsdtAt = memory.readU32(layout.rsdpAddress + 16);
  assert.equal(acpiChecksum(memory.bytes(rsdtAt, memory.readU32(rsdtAt + 4))), 0);
  assert.deepEqual([memory.readU32(rsdtAt + 36), memory.readU32(rsdtAt + 40)], [
    0x7ffff80,
    0x7fff610,
  ]);
  const ssdtAt = memory.readU32(rsdtAt + 44);
  assert.deepEqual(memory.bytes(ssdtAt, ssdt.length), ssdt);
  assert.throws(() => layoutAcpiTables(0x0700_0000, 64, [], ssdt), RangeError);
});

async function hasIasl(): Promise<boolean> {
  try {
    return (await new Deno.Command("iasl", { args: ["-v"], stdout: "null", stderr: "null" })
      .output())
      .success;
  } catch {
    return false;
  }
}

const iasl = await hasIasl();
if (!iasl) {
  console.error(
    "tests/linux/acpi_test.ts: iasl not installed (apt-get install acpica-tools): skipping the disassembly test",
  );
}

Deno.test({
  name: "iasl -d disassembles the SSDT to the devices, windows and interrupts",
  ignore: !iasl,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/ssdt.aml`, virtioMmioSsdt(WINDOWS));
      const out = await new Deno.Command("iasl", {
        args: ["-d", "ssdt.aml"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const dsl = (await Deno.readTextFile(`${dir}/ssdt.dsl`)).replace(/\s+/g, " ");
      assert.match(dsl, /Scope \(\\_SB\)/);
      for (const [i, w] of WINDOWS.entries()) {
        assert.match(dsl, new RegExp(`Device \\(VR0${i}\\) \\{ Name \\(_HID, "LNRO0005"\\)`));
        const base = `0x${w.base.toString(16).toUpperCase()}`;
        assert.match(
          dsl,
          new RegExp(
            `Memory32Fixed \\(ReadWrite, ${base}, // Address Base 0x00000200, // Address Length`,
          ),
        );
        assert.match(
          dsl,
          new RegExp(
            `Interrupt \\(ResourceConsumer, Level, ActiveHigh, Exclusive, ,, \\) \\{ 0x000000${
              w.gsi.toString(16).toUpperCase()
            }, \\}`,
          ),
        );
      }
      assert.doesNotMatch(dsl, /Error|Warning/i);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
