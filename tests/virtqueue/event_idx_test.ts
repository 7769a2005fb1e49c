import assert from "node:assert/strict";
import { vringNeedEvent } from "../../virtqueue/event_idx.ts";

/**
 * The rule of §2.7.7.2/2 and §2.7.10.1/3, stated directly: a notification is
 * due if one of the entries just written, at 16-bit indices old .. new - 1,
 * is the one at index `event`.
 */
function crossed(event: number, newIdx: number, oldIdx: number): boolean {
  for (let idx = oldIdx; idx !== newIdx; idx = (idx + 1) & 0xffff) {
    if (idx === event) return true;
  }
  return false;
}

Deno.test("vringNeedEvent: simple cases", () => {
  assert.equal(vringNeedEvent(0, 1, 0), true); // the first entry, as in the note of §2.7.7
  assert.equal(vringNeedEvent(1, 1, 0), false); // asked for the second entry
  assert.equal(vringNeedEvent(1, 2, 0), true);
  assert.equal(vringNeedEvent(5, 10, 3), true);
  assert.equal(vringNeedEvent(2, 10, 3), false); // already behind
  assert.equal(vringNeedEvent(10, 10, 3), false); // not written yet
  assert.equal(vringNeedEvent(9, 10, 3), true); // the last one written
  assert.equal(vringNeedEvent(3, 10, 3), true); // the first one written
  assert.equal(vringNeedEvent(4, 4, 4), false); // nothing written
});

Deno.test("vringNeedEvent: 16-bit wraparound", () => {
  assert.equal(vringNeedEvent(0xffff, 0, 0xffff), true);
  assert.equal(vringNeedEvent(0xffff, 1, 0xfffe), true);
  assert.equal(vringNeedEvent(0, 1, 0xfffe), true);
  assert.equal(vringNeedEvent(1, 1, 0xfffe), false);
  assert.equal(vringNeedEvent(0xfffd, 1, 0xfffe), false);
  assert.equal(vringNeedEvent(0xfffe, 0x0002, 0xfffe), true);
  // used_event 0 after 65536 entries: notified again (note of §2.7.7).
  assert.equal(vringNeedEvent(0, 0, 0xffff), false);
  assert.equal(vringNeedEvent(0, 1, 0xffff), true);
  // An event index one behind old is never crossed within fewer than 65535 entries.
  assert.equal(vringNeedEvent(0x7fff, 0x7fff + 32768, 0x8000), false);
});

Deno.test("vringNeedEvent agrees with the rule for every event around several windows", () => {
  const windows: [number, number][] = [
    [0, 0],
    [0, 1],
    [100, 164],
    [0xfff0, 0x0010],
    [0xffff, 0x0000],
    [0x8000, 0x0000],
    [0x1234, 0x1234 + 32768],
  ];
  for (const [oldIdx, rawNew] of windows) {
    const newIdx = rawNew & 0xffff;
    // Every event index for short windows; a stride through the long one.
    const step = ((newIdx - oldIdx) & 0xffff) > 256 ? 61 : 1;
    for (let event = 0; event <= 0xffff; event += step) {
      if (vringNeedEvent(event, newIdx, oldIdx) !== crossed(event, newIdx, oldIdx)) {
        assert.fail(`event ${event}, new ${newIdx}, old ${oldIdx}`);
      }
    }
  }
});

Deno.test("vringNeedEvent takes indices modulo 2^16 like the C u16 casts", () => {
  assert.equal(vringNeedEvent(0x1_0000, 1, 0), true);
  assert.equal(vringNeedEvent(5, 0x1_0006, 0x1_0005), true);
});
