/**
 * The device constants and configuration layouts against the spec and the
 * Linux UAPI headers: a fixed table always, and, when a C compiler and the
 * headers are installed, the values the compiler computes from
 * `linux/virtio_blk.h` and `linux/virtio_console.h` themselves.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as blk from "../../devices/blk/constants.ts";
import * as con from "../../devices/console/constants.ts";
import type { ConfigField } from "../../virtio/device.ts";

/** Names whose value the C headers define, with our value. */
const HEADER_CONSTANTS: Record<string, number> = {
  VIRTIO_BLK_F_SIZE_MAX: blk.VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_SEG_MAX: blk.VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_GEOMETRY: blk.VIRTIO_BLK_F_GEOMETRY,
  VIRTIO_BLK_F_RO: blk.VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_BLK_SIZE: blk.VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_TOPOLOGY: blk.VIRTIO_BLK_F_TOPOLOGY,
  VIRTIO_BLK_F_MQ: blk.VIRTIO_BLK_F_MQ,
  VIRTIO_BLK_F_DISCARD: blk.VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_WRITE_ZEROES: blk.VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_F_SECURE_ERASE: blk.VIRTIO_BLK_F_SECURE_ERASE,
  VIRTIO_BLK_F_BARRIER: blk.VIRTIO_BLK_F_BARRIER,
  VIRTIO_BLK_F_SCSI: blk.VIRTIO_BLK_F_SCSI,
  VIRTIO_BLK_F_FLUSH: blk.VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_CONFIG_WCE: blk.VIRTIO_BLK_F_CONFIG_WCE,
  VIRTIO_BLK_F_WCE: blk.VIRTIO_BLK_F_WCE,
  VIRTIO_BLK_ID_BYTES: blk.VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_T_IN: blk.VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT: blk.VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_SCSI_CMD: blk.VIRTIO_BLK_T_SCSI_CMD,
  VIRTIO_BLK_T_FLUSH: blk.VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID: blk.VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_DISCARD: blk.VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_WRITE_ZEROES: blk.VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_T_SECURE_ERASE: blk.VIRTIO_BLK_T_SECURE_ERASE,
  VIRTIO_BLK_T_BARRIER: blk.VIRTIO_BLK_T_BARRIER,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP: blk.VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
  VIRTIO_BLK_S_OK: blk.VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_IOERR: blk.VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_UNSUPP: blk.VIRTIO_BLK_S_UNSUPP,
  VIRTIO_CONSOLE_F_SIZE: con.VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_CONSOLE_F_MULTIPORT: con.VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_EMERG_WRITE: con.VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_BAD_ID: con.VIRTIO_CONSOLE_BAD_ID,
  VIRTIO_CONSOLE_DEVICE_READY: con.VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_PORT_ADD: con.VIRTIO_CONSOLE_PORT_ADD,
  VIRTIO_CONSOLE_PORT_REMOVE: con.VIRTIO_CONSOLE_PORT_REMOVE,
  VIRTIO_CONSOLE_PORT_READY: con.VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_CONSOLE_PORT: con.VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_RESIZE: con.VIRTIO_CONSOLE_RESIZE,
  VIRTIO_CONSOLE_PORT_OPEN: con.VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_NAME: con.VIRTIO_CONSOLE_PORT_NAME,
};

/** Our config field name -> the C member designator (Linux calls writeback `wce`, unused0 `unused`). */
function cMember(name: string): string {
  if (name === "writeback") return "wce";
  if (name === "unused0") return "unused";
  if (name.startsWith("unused1[")) return name;
  return name.replace(/^topology\./, "");
}

/** Offsets and sizes computed by the C compiler, or null without gcc and the headers. */
async function compiled(): Promise<Map<string, number> | null> {
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-uapi-" });
  try {
    const lines: string[] = [];
    const print = (key: string, expr: string) =>
      lines.push(`  printf("%s %llu\\n", "${key}", (unsigned long long)(${expr}));`);
    for (const name of Object.keys(HEADER_CONSTANTS)) print(name, name);
    for (const f of blk.VIRTIO_BLK_CONFIG_LAYOUT) {
      const m = cMember(f.name);
      print(`blk.${f.name}.offset`, `offsetof(struct virtio_blk_config, ${m})`);
      print(`blk.${f.name}.size`, `sizeof(((struct virtio_blk_config *)0)->${m})`);
    }
    for (const f of con.VIRTIO_CONSOLE_CONFIG_LAYOUT) {
      print(`console.${f.name}.offset`, `offsetof(struct virtio_console_config, ${f.name})`);
      print(`console.${f.name}.size`, `sizeof(((struct virtio_console_config *)0)->${f.name})`);
    }
    print("sizeof virtio_blk_config", "sizeof(struct virtio_blk_config)");
    print("sizeof virtio_blk_outhdr", "sizeof(struct virtio_blk_outhdr)");
    print("offsetof virtio_blk_outhdr.sector", "offsetof(struct virtio_blk_outhdr, sector)");
    print(
      "sizeof virtio_blk_discard_write_zeroes",
      "sizeof(struct virtio_blk_discard_write_zeroes)",
    );
    print("sizeof virtio_console_config", "sizeof(struct virtio_console_config)");
    print("sizeof virtio_console_control", "sizeof(struct virtio_console_control)");
    const source = [
      "#include <stdio.h>",
      "#include <stddef.h>",
      "#include <linux/virtio_blk.h>",
      "#include <linux/virtio_console.h>",
      "int main(void) {",
      ...lines,
      "  return 0;",
      "}",
    ].join("\n");
    const c = join(dir, "uapi.c");
    const exe = join(dir, "uapi");
    await Deno.writeTextFile(c, source);
    let built;
    try {
      built = await new Deno.Command("cc", { args: [c, "-o", exe], stderr: "piped" }).output();
    } catch {
      return null; // no compiler
    }
    if (!built.success) {
      const why = new TextDecoder().decode(built.stderr);
      if (/No such file|not found/.test(why)) return null; // no headers
      throw new Error(`Compiling the UAPI check failed:\n${why}`);
    }
    const { stdout } = await new Deno.Command(exe, { stdout: "piped" }).output();
    const values = new Map<string, number>();
    for (const line of new TextDecoder().decode(stdout).trim().split("\n")) {
      const at = line.lastIndexOf(" ");
      values.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return values;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function checkLayout(layout: readonly ConfigField[], size: number): void {
  let end = 0;
  for (const field of layout) {
    assert.ok(field.offset >= end, `${field.name} overlaps the field before it`);
    assert.equal(field.offset % Math.min(field.size, 4), 0, `${field.name} is naturally aligned`);
    end = field.offset + field.size;
  }
  assert.equal(end, size, "the last field ends the structure");
}

Deno.test("constants: struct virtio_blk_config and virtio_console_config layouts are consistent", () => {
  checkLayout(blk.VIRTIO_BLK_CONFIG_LAYOUT, blk.VIRTIO_BLK_CONFIG_SIZE);
  checkLayout(con.VIRTIO_CONSOLE_CONFIG_LAYOUT, con.VIRTIO_CONSOLE_CONFIG_SIZE);
  const byName = new Map(blk.VIRTIO_BLK_CONFIG_LAYOUT.map((f) => [f.name, f]));
  assert.deepEqual(
    [...byName.values()].filter((f) => f.feature === undefined).map((f) => f.name),
    ["capacity", "unused0", "unused1[0]", "unused1[1]", "unused1[2]"],
  );
  assert.deepEqual(
    [
      ["capacity", 0, 8],
      ["size_max", 8, 4],
      ["seg_max", 12, 4],
      ["geometry.cylinders", 16, 2],
      ["blk_size", 20, 4],
      ["topology.opt_io_size", 28, 4],
      ["writeback", 32, 1],
      ["num_queues", 34, 2],
      ["max_discard_sectors", 36, 4],
      ["write_zeroes_may_unmap", 56, 1],
      ["secure_erase_sector_alignment", 68, 4],
    ].map(([name]) => {
      const f = byName.get(name as string)!;
      return [f.name, f.offset, f.size];
    }),
    [
      ["capacity", 0, 8],
      ["size_max", 8, 4],
      ["seg_max", 12, 4],
      ["geometry.cylinders", 16, 2],
      ["blk_size", 20, 4],
      ["topology.opt_io_size", 28, 4],
      ["writeback", 32, 1],
      ["num_queues", 34, 2],
      ["max_discard_sectors", 36, 4],
      ["write_zeroes_may_unmap", 56, 1],
      ["secure_erase_sector_alignment", 68, 4],
    ],
  );
  const emerg = con.VIRTIO_CONSOLE_CONFIG_LAYOUT.find((f) => f.name === "emerg_wr")!;
  assert.deepEqual(emerg, {
    name: "emerg_wr",
    offset: 8,
    size: 4,
    feature: con.VIRTIO_CONSOLE_F_EMERG_WRITE,
    writable: true,
    anytime: true,
  });
  assert.equal(blk.SECTOR_SIZE, 1 << blk.SECTOR_SHIFT);
  assert.equal(blk.VIRTIO_BLK_F_LIFETIME, 15);
  assert.equal(blk.VIRTIO_BLK_T_GET_LIFETIME, 10);
  assert.deepEqual([
    con.portReceiveq(0),
    con.portTransmitq(0),
    con.portReceiveq(1),
    con.portTransmitq(1),
  ], [
    0,
    1,
    4,
    5,
  ]);
});

Deno.test("constants: values and layouts match what the C compiler reads from the Linux UAPI headers", async (t) => {
  const values = await compiled();
  if (values === null) {
    console.log("cc or linux/virtio_blk.h not available: UAPI cross-check skipped");
    return;
  }
  await t.step("constants", () => {
    for (const [name, ours] of Object.entries(HEADER_CONSTANTS)) {
      assert.equal(ours, values.get(name), name);
    }
  });
  await t.step("struct virtio_blk_config", () => {
    for (const f of blk.VIRTIO_BLK_CONFIG_LAYOUT) {
      assert.equal(f.offset, values.get(`blk.${f.name}.offset`), `${f.name} offset`);
      assert.equal(f.size, values.get(`blk.${f.name}.size`), `${f.name} size`);
    }
    assert.equal(blk.VIRTIO_BLK_CONFIG_SIZE, values.get("sizeof virtio_blk_config"));
  });
  await t.step("struct virtio_blk_outhdr and friends", () => {
    assert.equal(blk.VIRTIO_BLK_REQ_HEADER_SIZE, values.get("sizeof virtio_blk_outhdr"));
    assert.equal(blk.VIRTIO_BLK_REQ_SECTOR_OFFSET, values.get("offsetof virtio_blk_outhdr.sector"));
    assert.equal(
      blk.VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE,
      values.get("sizeof virtio_blk_discard_write_zeroes"),
    );
  });
  await t.step("struct virtio_console_config and virtio_console_control", () => {
    for (const f of con.VIRTIO_CONSOLE_CONFIG_LAYOUT) {
      assert.equal(f.offset, values.get(`console.${f.name}.offset`), `${f.name} offset`);
      assert.equal(f.size, values.get(`console.${f.name}.size`), `${f.name} size`);
    }
    assert.equal(con.VIRTIO_CONSOLE_CONFIG_SIZE, values.get("sizeof virtio_console_config"));
    assert.equal(con.VIRTIO_CONSOLE_CONTROL_SIZE, values.get("sizeof virtio_console_control"));
  });
});
