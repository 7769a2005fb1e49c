import assert from "node:assert/strict";
import {
  checkConfigAccess,
  configChanged,
  type ConfigSpaceView,
} from "../../transport/config_space.ts";
import type { ConfigField } from "../../virtio/device.ts";
import type { RuleProblem } from "../../transport/types.ts";

const F_SIZE = 1;
const LAYOUT: readonly ConfigField[] = [
  { name: "capacity", offset: 0, size: 8 },
  { name: "size_max", offset: 8, size: 4, feature: F_SIZE },
  { name: "cols", offset: 12, size: 2 },
  { name: "wce", offset: 14, size: 1, writable: true },
  { name: "emerg_wr", offset: 16, size: 4, writable: true, anytime: true },
];
const space = (over: Partial<ConfigSpaceView> = {}): ConfigSpaceView => ({
  size: 20,
  layout: LAYOUT,
  offered: 1n << BigInt(F_SIZE),
  featureNames: { [F_SIZE]: "VIRTIO_BLK_F_SIZE_MAX" },
  status: 0x0f,
  ...over,
});
const ids = (problems: readonly RuleProblem[]) => problems.map((p) => p.id);
const ACK_DRIVER = 0x03;

Deno.test("checkConfigAccess serves accesses at each field's width, and a u64 as two 32-bit halves (4.2.2.2/3)", () => {
  for (const [offset, width] of [[0, 4], [4, 4], [8, 4], [12, 2], [14, 1], [16, 4]] as const) {
    const verdict = checkConfigAccess(offset, width, "read", space());
    assert.deepEqual(verdict.problems, [], `${width * 8}-bit at ${offset}`);
    assert.equal(verdict.serve, true);
  }
});

Deno.test("checkConfigAccess reports wrong widths, misaligned and field-crossing accesses, and serves them (4.2.2.2/3)", () => {
  const cases: [number, 1 | 2 | 4][] = [
    [0, 2], // 16-bit read of a u64 half
    [2, 4], // misaligned half of a u64
    [12, 4], // 32-bit read of a u16, running into the next field
    [13, 1], // 8-bit read inside a u16
    [14, 2], // 16-bit read of a u8
  ];
  for (const [offset, width] of cases) {
    const verdict = checkConfigAccess(offset, width, "read", space());
    assert.deepEqual(ids(verdict.problems), ["4.2.2.2/3"], `${width * 8}-bit at ${offset}`);
    assert.equal(verdict.serve, true, "served anyway, as QEMU does");
  }
});

Deno.test("checkConfigAccess: bytes beyond configuration space are not served (4.2.2.2/1)", () => {
  const read = checkConfigAccess(20, 1, "read", space());
  assert.equal(read.serve, false);
  assert.deepEqual(ids(read.problems), ["4.2.2.2/1"]);
  assert.equal(read.problems[0].action, "read returned 0");
  assert.equal(read.problems[0].values.offset, "0x114", "the window offset");
  const straddles = checkConfigAccess(18, 4, "write", space());
  assert.equal(straddles.serve, false);
  assert.equal(straddles.problems[0].action, "write ignored");
  assert.equal(
    checkConfigAccess(16, 4, "read", space()).serve,
    true,
    "ending on the last byte is fine",
  );
});

Deno.test("checkConfigAccess: a field of a feature not offered breaks 2.5.1/1; masked features count as not offered", () => {
  assert.deepEqual(checkConfigAccess(8, 4, "read", space()).problems, []);
  const masked = checkConfigAccess(8, 4, "read", space({ offered: 0n }));
  assert.deepEqual(ids(masked.problems), ["2.5.1/1"]);
  assert.match(masked.problems[0].message, /VIRTIO_BLK_F_SIZE_MAX, not offered/);
});

Deno.test("checkConfigAccess: reads are served before FEATURES_OK (2.5.2/1)", () => {
  for (const status of [0, 0x01, ACK_DRIVER]) {
    const verdict = checkConfigAccess(0, 4, "read", space({ status }));
    assert.deepEqual(verdict, { serve: true, problems: [] });
  }
});

Deno.test("checkConfigAccess: writes reach writable fields only, and not during negotiation (3.1.1/2) unless anytime", () => {
  assert.deepEqual(checkConfigAccess(0, 4, "write", space()), { serve: false, problems: [] });
  assert.equal(checkConfigAccess(14, 1, "write", space()).serve, true);
  const negotiating = checkConfigAccess(14, 1, "write", space({ status: ACK_DRIVER }));
  assert.deepEqual(ids(negotiating.problems), ["3.1.1/2"]);
  assert.equal(negotiating.serve, true, "reported, then applied");
  assert.deepEqual(checkConfigAccess(16, 4, "write", space({ status: ACK_DRIVER })).problems, []);
  assert.deepEqual(checkConfigAccess(14, 1, "write", space({ status: 0 })).problems, []);
});

Deno.test("configChanged takes a new ConfigGeneration every time (4.2.2.1/6) and notifies only after DRIVER_OK", () => {
  let generation = 0xffff_fffe;
  const seen = new Set<number>([generation]);
  for (let i = 0; i < 4; i++) {
    const change = configChanged(generation, 0x0f);
    assert.equal(change.notify, true);
    assert.ok(!seen.has(change.configGeneration));
    assert.ok(change.configGeneration >= 0 && change.configGeneration <= 0xffff_ffff);
    seen.add(change.configGeneration);
    generation = change.configGeneration;
  }
  assert.equal(generation, 2, "wrapped through 0xffffffff to 0");
  assert.deepEqual(configChanged(5, 0x0b), { configGeneration: 6, notify: false });
});
