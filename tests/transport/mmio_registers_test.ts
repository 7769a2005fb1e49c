import assert from "node:assert/strict";
import {
  checkRegisterAccess,
  findRegister,
  MMIO_REGISTERS,
  readIdentification,
  registerByName,
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VERSION,
} from "../../transport/mmio_registers.ts";
import * as registers from "../../transport/mmio_registers.ts";

Deno.test("the register table has the §4.2.2 rows at the spec's offsets and directions", () => {
  const modern = MMIO_REGISTERS.filter((r) => r.versions.includes(2));
  const expected: [string, number, string][] = [
    ["MagicValue", 0x000, "R"],
    ["Version", 0x004, "R"],
    ["DeviceID", 0x008, "R"],
    ["VendorID", 0x00c, "R"],
    ["DeviceFeatures", 0x010, "R"],
    ["DeviceFeaturesSel", 0x014, "W"],
    ["DriverFeatures", 0x020, "W"],
    ["DriverFeaturesSel", 0x024, "W"],
    ["QueueSel", 0x030, "W"],
    ["QueueNumMax", 0x034, "R"],
    ["QueueNum", 0x038, "W"],
    ["QueueReady", 0x044, "RW"],
    ["QueueNotify", 0x050, "W"],
    ["InterruptStatus", 0x060, "R"],
    ["InterruptACK", 0x064, "W"],
    ["Status", 0x070, "RW"],
    ["QueueDescLow", 0x080, "W"],
    ["QueueDescHigh", 0x084, "W"],
    ["QueueDriverLow", 0x090, "W"],
    ["QueueDriverHigh", 0x094, "W"],
    ["QueueDeviceLow", 0x0a0, "W"],
    ["QueueDeviceHigh", 0x0a4, "W"],
    ["SHMSel", 0x0ac, "W"],
    ["SHMLenLow", 0x0b0, "R"],
    ["SHMLenHigh", 0x0b4, "R"],
    ["SHMBaseLow", 0x0b8, "R"],
    ["SHMBaseHigh", 0x0bc, "R"],
    ["QueueReset", 0x0c0, "RW"],
    ["ConfigGeneration", 0x0fc, "R"],
  ];
  assert.deepEqual(modern.map((r) => [r.name, r.offset, r.direction]), expected);
  // Every row names a constant exported by this module with the same offset.
  for (const r of MMIO_REGISTERS) {
    assert.equal((registers as Record<string, unknown>)[r.constant], r.offset, r.constant);
  }
});

Deno.test("legacy-only registers are absent from the version 2 layout", () => {
  assert.equal(findRegister(0x028, 2), undefined);
  assert.equal(findRegister(0x028, 1)?.name, "GuestPageSize");
  assert.equal(findRegister(0x040, 1)?.name, "QueuePFN");
  assert.equal(findRegister(0x044, 1), undefined);
  assert.equal(registerByName("QueueNotify")?.offset, 0x050);
});

Deno.test("checkRegisterAccess accepts every allowed 32-bit access and refuses the rest (4.2.2.2/1)", () => {
  for (let offset = 0; offset < VIRTIO_MMIO_CONFIG; offset += 4) {
    const reg = findRegister(offset, 2);
    for (const kind of ["read", "write"] as const) {
      const result = checkRegisterAccess(offset, 4, kind);
      const allowed = reg !== undefined &&
        (kind === "read" ? reg.direction !== "W" : reg.direction !== "R");
      assert.equal(result.ok, allowed, `${kind} at 0x${offset.toString(16)}`);
      if (!result.ok) {
        assert.equal(result.requirement, "4.2.2.2/1");
        assert.match(result.reason, /0x0[0-9a-f]{2}/);
      }
    }
  }
});

Deno.test("checkRegisterAccess refuses narrow and unaligned control accesses (4.2.2.2/2)", () => {
  for (
    const [offset, width] of [[VIRTIO_MMIO_STATUS, 1], [VIRTIO_MMIO_STATUS, 2], [0x071, 1], [
      0x072,
      2,
    ], [0x002, 4]]
  ) {
    const result = checkRegisterAccess(offset, width, "read");
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.requirement, "4.2.2.2/2");
  }
  const status16 = checkRegisterAccess(VIRTIO_MMIO_STATUS, 2, "write");
  assert.ok(!status16.ok && status16.register?.name === "Status");
});

Deno.test("checkRegisterAccess names the direction rule broken", () => {
  const notify = checkRegisterAccess(VIRTIO_MMIO_QUEUE_NOTIFY, 4, "read");
  assert.ok(!notify.ok);
  assert.match(notify.reason, /QueueNotify \(0x050\).*write-only/);
  const magic = checkRegisterAccess(VIRTIO_MMIO_MAGIC_VALUE, 4, "write");
  assert.ok(!magic.ok);
  assert.match(magic.reason, /MagicValue.*read-only/);
  const hole = checkRegisterAccess(0x018, 4, "read");
  assert.ok(!hole.ok);
  assert.match(hole.reason, /not a register/);
});

Deno.test("configuration space passes checkRegisterAccess at any width", () => {
  for (const width of [1, 2, 4]) {
    assert.deepEqual(checkRegisterAccess(VIRTIO_MMIO_CONFIG + 3, width, "write"), {
      ok: true,
      register: null,
    });
  }
});

Deno.test("readIdentification answers the four identification registers (4.2.2.1/1, 4.2.2.1/2)", () => {
  const id = { deviceId: 2, vendorId: 0x554d4551 };
  assert.equal(readIdentification(VIRTIO_MMIO_MAGIC_VALUE, id), VIRTIO_MMIO_MAGIC);
  assert.equal(VIRTIO_MMIO_MAGIC, 0x74726976);
  // "virt" in little-endian byte order.
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, VIRTIO_MMIO_MAGIC, true);
  assert.equal(new TextDecoder().decode(bytes), "virt");
  assert.equal(readIdentification(VIRTIO_MMIO_VERSION, id), 2);
  assert.equal(readIdentification(VIRTIO_MMIO_VERSION, { ...id, version: 1 }), 1);
  assert.equal(readIdentification(VIRTIO_MMIO_DEVICE_ID, id), 2);
  assert.equal(readIdentification(VIRTIO_MMIO_VENDOR_ID, id), 0x554d4551);
  assert.equal(readIdentification(VIRTIO_MMIO_STATUS, id), undefined);
});
