import assert from "node:assert/strict";
import {
  fuzzHostileChains,
  fuzzHostileCompletions,
  showFuzzCrash,
} from "../../../lessons/kit/hostile_fuzz.ts";
import type { walkChain } from "../../../virtqueue/device/walk.ts";
import type { getBuf } from "../../../virtqueue/driver/used.ts";
import { EXT2_IMAGE_BYTES, EXT2_IMAGE_SHA256, ext2Image } from "../../../lessons/kit/ext2_image.ts";

Deno.test("the reference halves survive every seeded hostile table and used ring, and report the rules broken", () => {
  const chains = fuzzHostileChains({}, { runs: 3000, seed: 3 });
  assert.equal(chains.crash, null);
  assert.ok(chains.taken > 300, `valid chains are among the tables (${chains.taken} taken)`);
  for (const id of ["2.7.5/D1", "2.7.5/D2", "2.7.5/D3", "2.7.5.3.1/3", "2.7.6/D1"]) {
    assert.ok(chains.reported[id] > 0, `some table breaks ${id}`);
  }
  const completions = fuzzHostileCompletions({}, { runs: 3000, seed: 3 });
  assert.equal(completions.crash, null);
  assert.ok(completions.taken > 300);
  for (const id of ["2.7.8/D1", "2.7.8/D2"]) assert.ok(completions.reported[id] > 0, id);
});

Deno.test("the same seed writes the same tables; another seed others", () => {
  const a = fuzzHostileChains({}, { runs: 500, seed: 11 });
  assert.deepEqual(fuzzHostileChains({}, { runs: 500, seed: 11 }), a);
  assert.notDeepEqual(fuzzHostileChains({}, { runs: 500, seed: 12 }).reported, a.reported);
});

Deno.test("a walker without a loop check, or trusting next, is caught with the run that replays it", () => {
  const trusting: typeof walkChain = (ring, head) => {
    const segments = [];
    let count = 0;
    for (let i = head; count < 100; count++) {
      const at = ring.descAddr + 16 * i;
      segments.push({ addr: ring.memory.readU64Number(at), len: ring.memory.readU32(at + 8) });
      if ((ring.memory.readU16(at + 12) & 1) === 0) break;
      i = ring.memory.readU16(at + 14);
    }
    return {
      head,
      readable: segments,
      writable: [],
      readableLength: 0,
      writableLength: 0,
      descriptorCount: segments.length,
      indirect: false,
    };
  };
  const report = fuzzHostileChains({ walkChain: trusting }, { runs: 2000, seed: 5 });
  assert.ok(report.crash, "the trusting walker is caught");
  assert.match(showFuzzCrash(report.crash), /^run \d+ of seed 5: /);
  const replay = fuzzHostileChains({ walkChain: trusting }, {
    runs: report.crash.run + 1,
    seed: 5,
  });
  assert.deepEqual(replay.crash, report.crash, "{ seed, runs: run + 1 } replays it");
});

Deno.test("a driver half that trusts the used ring (id and len) is caught", () => {
  // CVE-2021-38160's and intel/MigTD #986's class: whatever the device wrote is believed.
  const trusting: typeof getBuf = (ring, detach) => {
    const m = ring.memory;
    if (m.readU16(ring.usedAddr + 2) === ring.lastUsed) return null;
    const at = ring.usedAddr + 4 + 8 * (ring.lastUsed & (ring.size - 1));
    const id = m.readU32(at);
    const len = m.readU32(at + 4);
    ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
    return { token: detach(id), len };
  };
  const report = fuzzHostileCompletions({ getBuf: trusting }, { runs: 3000, seed: 2 });
  assert.ok(report.crash, "the trusting driver half is caught");
  assert.ok(["2.7.8/D1", "2.7.8/D2"].includes(report.crash.requirement));
});

Deno.test("the ext2 image is the one mkfs.ext2 made", async () => {
  const image = await ext2Image();
  assert.equal(image.length, EXT2_IMAGE_BYTES);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", image));
  assert.equal([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""), EXT2_IMAGE_SHA256);
});
