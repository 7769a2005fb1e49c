// Correct: positions as one running slot count split with % and Math.floor (lap parity is the wrap
// counter), the walk collecting descriptors before judging them, the device's scratch record
// filled and swapped in as the library does, stores in the order addr, id, len, flags.

import { breakPackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";
import type {
  PackedChainRecord,
  PackedDeviceRing,
} from "../../../../virtqueue/packed/device_ring.ts";
import {
  breakPackedDriverRing,
  PACKED_NO_TABLE,
} from "../../../../virtqueue/packed/driver_ring.ts";
import type { PackedDriverRing } from "../../../../virtqueue/packed/driver_ring.ts";
import {
  type BufferSegment,
  type UsedBuffer,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../../../../virtqueue/types.ts";
import {
  PVIRTQ_DESC_ADDR,
  PVIRTQ_DESC_FLAGS,
  PVIRTQ_DESC_ID,
  PVIRTQ_DESC_LEN,
  PVIRTQ_DESC_SIZE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from "../../../../virtqueue/packed/constants.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../../../virtqueue/constants.ts";

/** Slot and wrap counter `n` slots after (pos, wrap). */
function step(pos: number, wrap: number, n: number, size: number): [number, number] {
  const total = pos + n;
  return [total % size, Math.floor(total / size) % 2 === 0 ? wrap : wrap ^ 1];
}

/** The AVAIL/USED pair of a flags word as a two-letter key. */
function state(flags: number, wrap: number): "avail" | "used" | "other" {
  const a = (flags >> 7) & 1;
  const u = (flags >> 15) & 1;
  if (a === wrap && u !== wrap) return "avail";
  if (a === wrap && u === wrap) return "used";
  return "other";
}

const at = (ring: { descAddr: number }, pos: number) => ring.descAddr + pos * PVIRTQ_DESC_SIZE;

export function descAvailablePacked(ring: PackedDeviceRing): boolean {
  const flags = ring.memory.readU16(at(ring, ring.nextAvail) + PVIRTQ_DESC_FLAGS);
  const s = state(flags, ring.availWrap);
  if (s === "used") {
    breakPackedDeviceRing(ring, "2.8.1/D1", "USED not inverted", { flags });
  }
  return s === "avail";
}

interface Seen {
  addr: number;
  len: number;
  id: number;
  flags: number;
}

export function walkPackedChain(ring: PackedDeviceRing): PackedChainRecord | null {
  const seen: Seen[] = [];
  for (let k = 0;; k++) {
    if (k >= ring.size) return breakPackedDeviceRing(ring, "2.8.17/2", "too long", { k });
    const [pos, wrap] = step(ring.nextAvail, ring.availWrap, k, ring.size);
    const d = at(ring, pos);
    const flags = ring.memory.readU16(d + PVIRTQ_DESC_FLAGS);
    if (k > 0 && state(flags, wrap) !== "avail") {
      return breakPackedDeviceRing(ring, "2.8.17/6", "later descriptor not available", { pos });
    }
    seen.push({
      addr: ring.memory.readU64Number(d + PVIRTQ_DESC_ADDR),
      len: ring.memory.readU32(d + PVIRTQ_DESC_LEN),
      id: ring.memory.readU16(d + PVIRTQ_DESC_ID),
      flags,
    });
    if (flags & VIRTQ_DESC_F_INDIRECT || !(flags & VIRTQ_DESC_F_NEXT)) break;
  }
  const rec = ring.scratch;
  rec.readable.length = 0;
  rec.writable.length = 0;
  let indirect = false;
  for (const [k, s] of seen.entries()) {
    if (s.flags & VIRTQ_DESC_F_INDIRECT) {
      if (!ring.indirect) return breakPackedDeviceRing(ring, "2.8.19/1", "indirect", {});
      if (k > 0 || s.flags & VIRTQ_DESC_F_NEXT) {
        return breakPackedDeviceRing(ring, "2.8.19/4", "indirect chained", {});
      }
      Object.assign(ring.indirectDesc, { position: ring.nextAvail, addr: s.addr, len: s.len });
      indirect = true;
      continue;
    }
    if (!ring.memory.contains(s.addr, s.len)) {
      return breakPackedDeviceRing(ring, "2.8.4/D1", "outside RAM", { addr: s.addr });
    }
    if (s.flags & VIRTQ_DESC_F_WRITE) rec.writable.push({ addr: s.addr, len: s.len });
    else if (rec.writable.length) return breakPackedDeviceRing(ring, "2.8.17/3", "order", {});
    else rec.readable.push({ addr: s.addr, len: s.len });
  }
  const id = seen[seen.length - 1].id;
  const old = ring.chains.get(id);
  if (old?.inUse) return breakPackedDeviceRing(ring, "2.8.6/D1", "id in flight", { id });
  const sum = (l: { len: number }[]) => l.reduce((a, b) => a + b.len, 0);
  Object.assign(rec, {
    head: id,
    readableLength: sum(rec.readable),
    writableLength: sum(rec.writable),
    descriptorCount: seen.length,
    slots: seen.length,
    indirect,
    inUse: false,
  });
  ring.scratch = old ?? {
    head: 0,
    readable: [],
    writable: [],
    readableLength: 0,
    writableLength: 0,
    descriptorCount: 0,
    slots: 0,
    indirect: false,
    inUse: false,
  };
  ring.chains.set(id, rec);
  [ring.nextAvail, ring.availWrap] = step(ring.nextAvail, ring.availWrap, seen.length, ring.size);
  return rec;
}

export function pushUsedPacked(ring: PackedDeviceRing, id: number, len: number): void {
  const d = at(ring, ring.nextUsed);
  ring.memory.writeU16(d + PVIRTQ_DESC_ID, id);
  ring.memory.writeU32(d + PVIRTQ_DESC_LEN, len);
  const both = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;
  ring.memory.writeU16(
    d + PVIRTQ_DESC_FLAGS,
    (ring.usedWrap ? both : 0) | (len > 0 ? VIRTQ_DESC_F_WRITE : 0),
  );
  const { slots } = ring.chains.get(id)!;
  [ring.nextUsed, ring.usedWrap] = step(ring.nextUsed, ring.usedWrap, slots, ring.size);
  ring.usedSinceSignal += slots;
}

export function addPacked<T>(
  ring: PackedDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): void {
  const elements = readable.concat(writable);
  const n = elements.length;
  const refusals: [boolean, () => Error][] = [
    [n === 0, () => new VirtqueueChainError(null, -1, "no elements")],
    [n > ring.size, () => new VirtqueueChainError("2.8.17/2", -1, "more than Queue Size")],
    [n > ring.numFree, () => new VirtqueueFullError(n, ring.numFree)],
  ];
  for (const [broken, error] of refusals) if (broken) throw error();
  for (let k = 0; k < n; k++) {
    const { addr, len } = elements[k];
    if (len === 0 || len > 0xffff_ffff) throw new VirtqueueChainError(null, k, "bad length");
    if (!ring.memory.contains(addr, len)) {
      throw new VirtqueueChainError("2.8.4/D1", k, "outside RAM");
    }
  }
  const id = ring.freeHead;
  const flagsOf = (k: number) => {
    const [, wrap] = step(ring.nextAvail, ring.availWrap, k, ring.size);
    return (wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED) |
      (k >= readable.length ? VIRTQ_DESC_F_WRITE : 0) | (k < n - 1 ? VIRTQ_DESC_F_NEXT : 0);
  };
  for (let k = n - 1; k >= 0; k--) {
    const [pos] = step(ring.nextAvail, ring.availWrap, k, ring.size);
    const d = at(ring, pos);
    ring.memory.writeU64(d + PVIRTQ_DESC_ADDR, elements[k].addr);
    ring.memory.writeU16(d + PVIRTQ_DESC_ID, id);
    ring.memory.writeU32(d + PVIRTQ_DESC_LEN, elements[k].len);
    if (k > 0) ring.memory.writeU16(d + PVIRTQ_DESC_FLAGS, flagsOf(k));
  }
  ring.memory.writeU16(at(ring, ring.nextAvail) + PVIRTQ_DESC_FLAGS, flagsOf(0));
  [ring.nextAvail, ring.availWrap] = step(ring.nextAvail, ring.availWrap, n, ring.size);
  ring.freeHead = ring.nextId[id];
  ring.numFree -= n;
  ring.numAdded += n;
  ring.inFlight += 1;
  ring.inUse[id] = 1;
  ring.descCount[id] = n;
  let bytes = 0;
  for (const e of writable) bytes += e.len;
  ring.writable[id] = bytes;
  ring.table[id] = PACKED_NO_TABLE;
  ring.tokens[id] = token;
}

export function getBufPacked<T>(
  ring: PackedDriverRing<T>,
  detach: (id: number) => T,
): UsedBuffer<T> | null {
  const d = at(ring, ring.nextUsed);
  const flags = ring.memory.readU16(d + PVIRTQ_DESC_FLAGS);
  const a = (flags >> 7) & 1;
  const u = (flags >> 15) & 1;
  if (!(a === u && u === ring.usedWrap)) return null;
  const id = ring.memory.readU16(d + PVIRTQ_DESC_ID);
  const raw = ring.memory.readU32(d + PVIRTQ_DESC_LEN);
  if (!(id < ring.size && ring.inUse[id] === 1)) {
    return breakPackedDriverRing(ring, "2.8.22/D1", "unknown id", { id });
  }
  const len = flags & VIRTQ_DESC_F_WRITE ? raw : 0;
  if (len > ring.writable[id]) return breakPackedDriverRing(ring, "2.8.4/D2", "len", { len });
  [ring.nextUsed, ring.usedWrap] = step(
    ring.nextUsed,
    ring.usedWrap,
    ring.descCount[id],
    ring.size,
  );
  const token = detach(id);
  return { token, len };
}
