// Tests for lessons/kit/shadow.ts. A staged ring is in the state it was
// asked for, with stale bytes only in free descriptors; shadowProblem finds
// each kind of broken record (a looping free list, a lost descriptor, one in
// two chains, a wrong count or token, a chain overwritten in the table) and
// nothing on a sound one; placeChain and freeChain observe what the
// reference does and what a part with a mistake does; random adds and frees
// pass with the reference and stop at the step a mistake shows.

import assert from "node:assert/strict";
import { addChain } from "../../../virtqueue/driver/add.ts";
import { detachChain } from "../../../virtqueue/driver/detach.ts";
import {
  HEAD_FREE,
  NO_INDIRECT_TABLE,
  type SplitDriverRing,
} from "../../../virtqueue/driver/ring.ts";
import { VirtqueueChainError } from "../../../virtqueue/types.ts";
import {
  addFreeRun,
  chainInTable,
  describeStage,
  driverRingStage,
  freeChain,
  freeListOf,
  placeChain,
  shadowProblem,
  showFreeing,
  showPlacement,
} from "../../../lessons/kit/shadow.ts";

Deno.test("a staged ring holds its busy chains, the freed ones back on the list", () => {
  const s = driverRingStage({ size: 8, busy: [2, 3, 1], freed: [1] });
  assert.equal(s.ring.numFree, 5);
  assert.equal(s.posted.size, 2);
  assert.deepEqual([...s.posted.keys()], [s.heads[0], s.heads[2]]);
  assert.equal(shadowProblem(s.ring, s.posted, { memory: true }), null);
  assert.equal(s.memory.loads + s.memory.stores + s.memory.views, 0, "staging is not observed");
  const free = freeListOf(s.ring) as number[];
  for (const d of free) {
    assert.equal(
      s.memory.quietly(() => s.memory.readU32(s.ring.descAddr + 16 * d + 8)),
      0xa5a5a5a5,
    );
  }
  assert.equal(chainInTable(s.ring, s.heads[0]).length, 2, "busy chains keep their descriptors");
  assert.equal(describeStage({ size: 4, busy: [2, 2] }), "a ring of 4 holding chains of 2, 2");
});

Deno.test("an indirect busy chain takes one descriptor and records its table", () => {
  const s = driverRingStage({ size: 4, busy: [1, 3], indirectAt: 1 });
  const head = s.heads[1];
  assert.equal(s.ring.count[head], 1);
  assert.notEqual(s.ring.tables[head], NO_INDIRECT_TABLE);
  assert.equal(s.posted.get(head)!.table, s.ring.tables[head]);
  assert.equal(shadowProblem(s.ring, s.posted, { memory: true }), null);
});

Deno.test("shadowProblem names each kind of broken record", () => {
  const broken = (edit: (s: ReturnType<typeof driverRingStage>) => void) => {
    const s = driverRingStage({ size: 8, busy: [3, 2] });
    edit(s);
    return shadowProblem(s.ring, s.posted, { memory: true });
  };
  assert.match(broken((s) => (s.ring.next[s.ring.freeHead] = s.ring.freeHead)) ?? "", /twice/);
  assert.match(broken((s) => s.ring.numFree--) ?? "", /neither on the free list nor/);
  assert.match(broken((s) => (s.ring.freeHead = s.heads[1])) ?? "", /and also on the free list/);
  assert.match(broken((s) => (s.ring.count[s.heads[0]] = 2)) ?? "", /count\[0\] is 2, not 3/);
  assert.match(broken((s) => (s.ring.tokens[s.heads[1]] = "x")) ?? "", /tokens\[3\] is x/);
  assert.match(broken((s) => (s.ring.state[s.heads[0]] = HEAD_FREE)) ?? "", /HEAD_FREE/);
  assert.match(broken((s) => s.ring.inFlight++) ?? "", /inFlight is 3/);
  assert.match(broken((s) => (s.ring.writable[s.heads[0]] = 7)) ?? "", /writable\[0\] is 7/);
  assert.match(
    broken((s) => s.memory.writeU32(s.ring.descAddr + 16 + 8, 99)) ?? "",
    /descriptor 1 of the chain at head 0 no longer describes/,
  );
});

Deno.test("placeChain observes the reference placing and refusing, and a stray store", () => {
  const placed = placeChain(addChain, { r: [16], w: [512, 1] });
  assert.deepEqual(placed.outcome, { returned: 0 });
  assert.deepEqual(placed.chain.map((d) => d.index), [0, 1, 2]);
  assert.deepEqual(placed.elsewhere, []);
  assert.match(showPlacement(placed), /returned 0; in memory desc 0/);
  const refused = placeChain(addChain, { r: [16], w: [{ len: 8, at: "past" }] });
  assert.ok("threw" in refused.outcome && refused.outcome.threw instanceof VirtqueueChainError);
  assert.equal(refused.stored, false);
  assert.match(showPlacement(refused), /\[rule 2\.7\.5\/D2, segment 1\]/);
  const stray = placeChain((ring, r, w, t) => {
    const head = addChain(ring, r, w, t);
    ring.memory.writeU16(ring.availAddr + 4, head); // also fills an available slot
    return head;
  }, { r: [16], w: [] });
  assert.deepEqual(stray.elsewhere, ["available ring slot 0"]);
});

Deno.test("freeChain frees with the reference and catches a walk of a scribbled table", () => {
  const ok = freeChain(detachChain, { on: "x", busy: [3, 2], take: 0 });
  assert.deepEqual(ok, { outcome: 'returned "busy 0"', problem: null, freeTable: [] });
  const scribbled = {
    on: "x",
    busy: [3, 2],
    take: 0,
    scribble: (ring: SplitDriverRing<string>) => {
      for (let d = 0; d < ring.size; d++) ring.memory.writeU16(ring.descAddr + 16 * d + 12, 1);
    },
  };
  const walker: typeof detachChain = (ring, head) => {
    for (let i = head; ring.memory.readU16(ring.descAddr + 16 * i + 12) & 1;) {
      i = ring.memory.readU16(ring.descAddr + 16 * i + 14);
    }
    return ring.tokens[head] as never;
  };
  const run = freeChain(walker, scribbled);
  assert.match(run.outcome, /threw RunawayReadsError/);
  assert.match(showFreeing(run), /^threw RunawayReadsError.*freeTable called with \[\]$/);
});

Deno.test("random adds and frees: the reference keeps the record, a leak is found at its step", () => {
  const ops = [
    { add: [1, 2, 16] as const },
    { add: [2, 0, 8] as const },
    { free: 0 },
    { add: [3, 0, 8] as const },
  ];
  assert.equal(addFreeRun(addChain, detachChain, ops), null);
  const leaky: typeof detachChain = (ring, head) => {
    ring.state[head] = HEAD_FREE;
    const token = ring.tokens[head];
    ring.tokens[head] = undefined;
    ring.next[head] = ring.freeHead;
    ring.freeHead = head;
    ring.numFree += 1; // the rest of the chain is lost
    ring.inFlight--;
    return token as never;
  };
  assert.match(addFreeRun(addChain, leaky, ops) ?? "", /^at step 3 \(free #0\), descriptor/);
});
