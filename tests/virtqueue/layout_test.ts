import assert from "node:assert/strict";
import {
  availEventOffset,
  availRingEntryOffset,
  availRingSize,
  descOffset,
  descTableSize,
  isValidQueueSize,
  QueueSizeError,
  splitQueueLayout,
  usedElemOffset,
  usedEventOffset,
  usedRingSize,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
  VIRTQ_USED_ELEM_LEN_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
  vringAddresses,
  vringLayout,
} from "../../virtqueue/layout.ts";
import * as C from "../../virtqueue/constants.ts";

/** Every legal Queue Size: 1, 2, 4, ... 32768. */
const SIZES = Array.from({ length: 16 }, (_, k) => 2 ** k);

/**
 * Linux's vring_size() from linux/virtio_ring.h, written out from the
 * header's definition: sizeof(struct vring_desc) = 16, sizeof(__virtio16) =
 * 2, sizeof(struct vring_used_elem) = 8, with the C mask arithmetic for the
 * alignment (unsigned, so computed with BigInt to keep it exact).
 */
function linuxVringSize(num: number, align: number): number {
  const n = BigInt(num);
  const a = BigInt(align);
  const mask = ~(a - 1n) & 0xffff_ffff_ffff_ffffn;
  const first = (16n * n + 2n * (3n + n) + a - 1n) & mask;
  return Number(first + 2n * 3n + 8n * n);
}

/** Linux's vring_init(): where the used ring starts for a ring at address 0. */
function linuxUsedOffset(num: number, align: number): number {
  const availRingEnd = 16 * num + 4 + 2 * num; // &avail->ring[num]
  return (availRingEnd + 2 + align - 1) & ~(align - 1);
}

Deno.test("constants match the spec and linux/virtio_ring.h", () => {
  assert.equal(C.VIRTQ_DESC_F_NEXT, 1);
  assert.equal(C.VIRTQ_DESC_F_WRITE, 2);
  assert.equal(C.VIRTQ_DESC_F_INDIRECT, 4);
  assert.equal(C.VIRTQ_AVAIL_F_NO_INTERRUPT, 1);
  assert.equal(C.VIRTQ_USED_F_NO_NOTIFY, 1);
  assert.equal(C.VRING_DESC_F_NEXT, 1);
  assert.equal(C.VRING_DESC_F_WRITE, 2);
  assert.equal(C.VRING_DESC_F_INDIRECT, 4);
  assert.equal(C.VRING_AVAIL_F_NO_INTERRUPT, 1);
  assert.equal(C.VRING_USED_F_NO_NOTIFY, 1);
  assert.equal(C.VRING_DESC_ALIGN_SIZE, 16);
  assert.equal(C.VRING_AVAIL_ALIGN_SIZE, 2);
  assert.equal(C.VRING_USED_ALIGN_SIZE, 4);
  assert.equal(C.VIRTQ_DESC_SIZE, 16);
  assert.equal(C.VIRTQ_USED_ELEM_SIZE, 8);
  assert.equal(C.VIRTQ_MAX_SIZE, 32768);
});

Deno.test("isValidQueueSize accepts exactly the powers of two from 1 to 32768", () => {
  for (const n of SIZES) assert.ok(isValidQueueSize(n), `${n}`);
  for (const n of [0, -1, 3, 6, 100, 1023, 32767, 32769, 65536, 1.5, NaN, Infinity]) {
    assert.equal(isValidQueueSize(n), false, `${n}`);
  }
  let accepted = 0;
  for (let n = 0; n <= 70000; n++) if (isValidQueueSize(n)) accepted++;
  assert.equal(accepted, 16);
});

Deno.test("part sizes follow the table of §2.7, with and without event idx", () => {
  for (const n of SIZES) {
    assert.equal(descTableSize(n), 16 * n);
    // The spec's table counts the event field: 6 + 2 * size and 6 + 8 * size.
    assert.equal(availRingSize(n), 6 + 2 * n);
    assert.equal(usedRingSize(n), 6 + 8 * n);
    assert.equal(availRingSize(n, true), 6 + 2 * n);
    assert.equal(usedRingSize(n, true), 6 + 8 * n);
    assert.equal(availRingSize(n, false), 4 + 2 * n);
    assert.equal(usedRingSize(n, false), 4 + 8 * n);
    const withEvent = splitQueueLayout(n, true);
    assert.deepEqual(withEvent, {
      size: n,
      eventIdx: true,
      descTableSize: 16 * n,
      descTableAlign: 16,
      availRingSize: 6 + 2 * n,
      availRingAlign: 2,
      usedRingSize: 6 + 8 * n,
      usedRingAlign: 4,
      usedEventOffset: 4 + 2 * n,
      availEventOffset: 4 + 8 * n,
    });
    const without = splitQueueLayout(n, false);
    assert.equal(without.availRingSize, 4 + 2 * n);
    assert.equal(without.usedRingSize, 4 + 8 * n);
    assert.equal(without.usedEventOffset, null);
    assert.equal(without.availEventOffset, null);
  }
});

Deno.test("field offsets: descriptors, ring entries, used_event and avail_event", () => {
  assert.equal(VIRTQ_DESC_LEN_OFFSET, 8);
  assert.equal(VIRTQ_DESC_FLAGS_OFFSET, 12);
  assert.equal(VIRTQ_DESC_NEXT_OFFSET, 14);
  assert.equal(VIRTQ_AVAIL_IDX_OFFSET, 2);
  assert.equal(VIRTQ_USED_IDX_OFFSET, 2);
  assert.equal(VIRTQ_USED_ELEM_LEN_OFFSET, 4);
  assert.equal(descOffset(0), 0);
  assert.equal(descOffset(5), 80);
  assert.equal(availRingEntryOffset(0), 4);
  assert.equal(availRingEntryOffset(3), 10);
  assert.equal(usedElemOffset(0), 4);
  assert.equal(usedElemOffset(3), 28);
  for (const n of SIZES) {
    // used_event sits right after ring[size - 1]; avail_event right after the last element.
    assert.equal(usedEventOffset(n), availRingEntryOffset(n - 1) + 2);
    assert.equal(availEventOffset(n), usedElemOffset(n - 1) + 8);
    // Each is the last 2 bytes of its part when event idx is in use.
    assert.equal(usedEventOffset(n) + 2, availRingSize(n, true));
    assert.equal(availEventOffset(n) + 2, usedRingSize(n, true));
  }
  assert.equal(usedEventOffset(256), 516);
  assert.equal(availEventOffset(256), 2052);
});

Deno.test("vringLayout total equals Linux's vring_size for every size and several alignments", () => {
  const aligns = [4, 16, 64, 128, 4096, 16384, 65536];
  for (const n of SIZES) {
    for (const align of aligns) {
      const layout = vringLayout(n, align);
      assert.equal(layout.total, linuxVringSize(n, align), `size ${n} align ${align}`);
      assert.equal(layout.descOffset, 0);
      assert.equal(layout.availOffset, 16 * n);
      assert.equal(layout.usedOffset, linuxUsedOffset(n, align), `used ${n}/${align}`);
      assert.equal(layout.usedOffset % align, 0);
      assert.ok(layout.usedOffset >= layout.availOffset + availRingSize(n, true));
    }
  }
  // A worked value: 256 entries, 4096-byte pages: 8192 of table + avail ring, then 2054.
  assert.equal(vringLayout(256, 4096).total, 10246);
});

Deno.test("vringLayout and vringAddresses reject bad sizes, alignments and bases", () => {
  assert.throws(() => vringLayout(3, 4096), QueueSizeError);
  assert.throws(() => vringLayout(65536, 4096), QueueSizeError);
  assert.throws(() => vringLayout(8, 3), RangeError);
  assert.throws(() => vringLayout(8, 2), RangeError);
  assert.throws(() => vringAddresses(0x1001, 8, 4096), RangeError);
  assert.deepEqual(vringAddresses(0x10000, 8, 4096), {
    descAddr: 0x10000,
    availAddr: 0x10080,
    usedAddr: 0x11000,
  });
  assert.throws(() => descTableSize(0), QueueSizeError);
  try {
    availRingSize(12);
    assert.fail("expected a QueueSizeError");
  } catch (e) {
    assert.ok(e instanceof QueueSizeError);
    assert.equal(e.size, 12);
    assert.match(e.message, /Queue size 12 is not a power of two/);
  }
});
