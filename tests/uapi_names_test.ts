/**
 * The project's constant names are the Linux UAPI headers' names, with the
 * headers' values (docs/ARCHITECTURE.md §7). Every `#define NAME VALUE` of the virtio
 * headers that `mod.ts` also exports must agree, and the names a reader would
 * grep for must be exported.
 */

import assert from "node:assert/strict";
import * as lab from "../mod.ts";

const HEADERS = [
  "virtio_mmio.h",
  "virtio_config.h",
  "virtio_ring.h",
  "virtio_ids.h",
  "virtio_blk.h",
  "virtio_console.h",
];
const INCLUDE = "/usr/include/linux";

/** `#define NAME VALUE` lines whose value is an integer expression we can evaluate. */
function parseDefines(text: string, known: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  const source = text.replace(/\/\*[\s\S]*?\*\//g, "");
  for (const m of source.matchAll(/^#define\s+([A-Z][A-Z0-9_]*)\s+(.+?)\s*$/gm)) {
    const [, name, raw] = m;
    let expr = raw.replace(/\b(0x[0-9a-fA-F]+|\d+)[uUlL]+\b/g, "$1").trim();
    expr = expr.replace(
      /\b[A-Z][A-Z0-9_]*\b/g,
      (ref) => (known.has(ref) ? String(known.get(ref)) : ref),
    );
    if (!/^[0-9a-fA-Fx()<>|\s~]+$/.test(expr)) continue; // function-like macros, casts, strings
    if (expr.includes("~")) continue; // e.g. VIRTIO_CONSOLE_BAD_ID (~(__u32)0)
    const value = Function(`"use strict"; return (${expr});`)() as number;
    if (Number.isInteger(value)) {
      out.set(name, value);
      known.set(name, value);
    }
  }
  return out;
}

function readHeaders(): Map<string, number> | null {
  const known = new Map<string, number>();
  const all = new Map<string, number>();
  for (const header of HEADERS) {
    let text: string;
    try {
      text = Deno.readTextFileSync(`${INCLUDE}/${header}`);
    } catch {
      return null;
    }
    for (const [k, v] of parseDefines(text, known)) all.set(k, v);
  }
  return all;
}

const defines = readHeaders();
const exported = lab as unknown as Record<string, unknown>;

if (!defines && Deno.env.get("CI")) {
  throw new Error("linux-libc-dev is required under CI (.ci/run installs it)");
}

Deno.test({
  name: "every exported name that the virtio UAPI headers define has the header's value",
  ignore: defines === null,
  fn() {
    let compared = 0;
    for (const [name, value] of defines!) {
      if (!(name in exported)) continue;
      assert.equal(
        exported[name],
        value,
        `${name}: mod.ts exports ${exported[name]}, the header says ${value}`,
      );
      compared++;
    }
    assert.ok(compared >= 100, `compared only ${compared} names`);
  },
});

Deno.test({
  name:
    "the names a reader greps for are exported (virtio_mmio.h, virtio_config.h, virtio_ring.h, virtio_blk.h, virtio_console.h)",
  ignore: defines === null,
  fn() {
    const required = [...defines!.keys()].filter((name) =>
      /^VIRTIO_MMIO_/.test(name) ||
      /^VIRTIO_CONFIG_S_/.test(name) ||
      /^VIRTIO_F_/.test(name) ||
      /^VIRTIO_TRANSPORT_F_/.test(name) ||
      /^VIRTIO_RING_F_/.test(name) ||
      /^VRING_(DESC|AVAIL|USED)_F_/.test(name) ||
      /^VRING_(DESC|AVAIL|USED)_ALIGN_SIZE$/.test(name) ||
      /^VIRTIO_BLK_[FTS]_/.test(name) ||
      /^VIRTIO_CONSOLE_/.test(name) ||
      [
        "VIRTIO_ID_NET",
        "VIRTIO_ID_BLOCK",
        "VIRTIO_ID_CONSOLE",
        "VIRTIO_ID_RNG",
        "VIRTIO_BLK_ID_BYTES",
      ].includes(name)
    ).filter((name) =>
      !["VIRTIO_F_NOTIFY_ON_EMPTY", "VIRTIO_F_ANY_LAYOUT"].includes(name) || name in exported
    );
    const missing = required.filter((name) => !(name in exported));
    assert.deepEqual(missing, [], `not exported by mod.ts: ${missing.join(", ")}`);
  },
});

Deno.test("the spec's own names are exported beside Linux's where the two differ", () => {
  const pairs: [string, string][] = [
    ["VIRTQ_DESC_F_NEXT", "VRING_DESC_F_NEXT"],
    ["VIRTQ_DESC_F_WRITE", "VRING_DESC_F_WRITE"],
    ["VIRTQ_DESC_F_INDIRECT", "VRING_DESC_F_INDIRECT"],
    ["VIRTQ_AVAIL_F_NO_INTERRUPT", "VRING_AVAIL_F_NO_INTERRUPT"],
    ["VIRTQ_USED_F_NO_NOTIFY", "VRING_USED_F_NO_NOTIFY"],
    ["VIRTIO_F_INDIRECT_DESC", "VIRTIO_RING_F_INDIRECT_DESC"],
    ["VIRTIO_F_EVENT_IDX", "VIRTIO_RING_F_EVENT_IDX"],
    ["VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET", "VIRTIO_CONFIG_S_NEEDS_RESET"],
  ];
  for (const [spec, linux] of pairs) {
    assert.ok(spec in exported && linux in exported, `${spec} / ${linux}`);
    assert.equal(exported[spec], exported[linux], `${spec} = ${linux}`);
  }
});
