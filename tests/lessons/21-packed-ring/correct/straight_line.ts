// Correct: straight-line code close to the contract's tables; a fresh record per walk; the Buffer ID
// only in the last descriptor; each position moved with an explicit "reached the end" test.

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

const AVAIL = 1 << 7;
const USED = 1 << 15;
const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;

function bit(flags: number, mask: number): number {
  return (flags & mask) !== 0 ? 1 : 0;
}

export function descAvailablePacked(ring: PackedDeviceRing): boolean {
  const flags = ring.memory.readU16(ring.descAddr + 16 * ring.nextAvail + 14);
  const a = bit(flags, AVAIL);
  const u = bit(flags, USED);
  const w = ring.availWrap;
  if (a === w && u !== w) return true;
  if (a === w && u === w) {
    breakPackedDeviceRing(ring, "2.8.1/D1", `slot ${ring.nextAvail}: AVAIL and USED both ${w}`, {
      flags,
    });
  }
  return false;
}

export function walkPackedChain(ring: PackedDeviceRing): PackedChainRecord | null {
  const m = ring.memory;
  let p = ring.nextAvail;
  let w = ring.availWrap;
  const readable: { addr: number; len: number }[] = [];
  const writable: { addr: number; len: number }[] = [];
  let count = 0;
  let id = 0;
  let indirect = false;
  while (true) {
    if (count === ring.size) {
      return breakPackedDeviceRing(ring, "2.8.17/2", "list longer than the ring", { count });
    }
    const d = ring.descAddr + 16 * p;
    const flags = m.readU16(d + 14);
    if (count > 0 && !(bit(flags, AVAIL) === w && bit(flags, USED) !== w)) {
      return breakPackedDeviceRing(ring, "2.8.17/6", `slot ${p} of the list is not available`, {
        p,
      });
    }
    const addr = m.readU64Number(d);
    const len = m.readU32(d + 8);
    id = m.readU16(d + 12);
    count++;
    p++;
    if (p === ring.size) {
      p = 0;
      w = 1 - w;
    }
    if (flags & INDIRECT) {
      if (!ring.indirect) return breakPackedDeviceRing(ring, "2.8.19/1", "no indirect", { flags });
      if (count > 1 || (flags & NEXT)) {
        return breakPackedDeviceRing(ring, "2.8.19/4", "indirect in a list", { flags });
      }
      ring.indirectDesc.position = ring.nextAvail;
      ring.indirectDesc.addr = addr;
      ring.indirectDesc.len = len;
      indirect = true;
      break;
    }
    if (!m.contains(addr, len)) {
      return breakPackedDeviceRing(ring, "2.8.4/D1", "element outside RAM", { addr, len });
    }
    if (flags & WRITE) writable.push({ addr, len });
    else if (writable.length > 0) {
      return breakPackedDeviceRing(ring, "2.8.17/3", "readable after writable", { count });
    } else readable.push({ addr, len });
    if (!(flags & NEXT)) break;
  }
  if (ring.chains.get(id)?.inUse) {
    return breakPackedDeviceRing(ring, "2.8.6/D1", `Buffer ID ${id} is in flight`, { id });
  }
  const record: PackedChainRecord = {
    head: id,
    readable,
    writable,
    readableLength: readable.reduce((s, e) => s + e.len, 0),
    writableLength: writable.reduce((s, e) => s + e.len, 0),
    descriptorCount: count,
    slots: count,
    indirect,
    inUse: false,
  };
  ring.chains.set(id, record);
  ring.nextAvail = p;
  ring.availWrap = w;
  return record;
}

export function pushUsedPacked(ring: PackedDeviceRing, id: number, len: number): void {
  const d = ring.descAddr + 16 * ring.nextUsed;
  ring.memory.writeU32(d + 8, len);
  ring.memory.writeU16(d + 12, id);
  let flags = ring.usedWrap === 1 ? AVAIL | USED : 0;
  if (len > 0) flags |= WRITE;
  ring.memory.writeU16(d + 14, flags);
  const slots = ring.chains.get(id)!.slots;
  ring.nextUsed += slots;
  if (ring.nextUsed >= ring.size) {
    ring.nextUsed -= ring.size;
    ring.usedWrap = 1 - ring.usedWrap;
  }
  ring.usedSinceSignal += slots;
}

export function addPacked<T>(
  ring: PackedDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): void {
  const all = [...readable, ...writable];
  const n = all.length;
  if (n === 0) throw new VirtqueueChainError(null, -1, "empty buffer");
  if (n > ring.size) throw new VirtqueueChainError("2.8.17/2", -1, "longer than the ring");
  if (n > ring.numFree) throw new VirtqueueFullError(n, ring.numFree);
  all.forEach((e, k) => {
    if (!(e.len >= 1 && e.len <= 0xffff_ffff)) {
      throw new VirtqueueChainError(null, k, `element ${k} has length ${e.len}`);
    }
    if (!ring.memory.contains(e.addr, e.len)) {
      throw new VirtqueueChainError("2.8.4/D1", k, `element ${k} is outside RAM`);
    }
  });
  const id = ring.freeHead;
  let p = ring.nextAvail;
  let w = ring.availWrap;
  let firstFlags = 0;
  for (let k = 0; k < n; k++) {
    const d = ring.descAddr + 16 * p;
    ring.memory.writeU64(d, all[k].addr);
    ring.memory.writeU32(d + 8, all[k].len);
    if (k === n - 1) ring.memory.writeU16(d + 12, id);
    let flags = w === 1 ? AVAIL : USED;
    if (k >= readable.length) flags |= WRITE;
    if (k < n - 1) flags |= NEXT;
    if (k === 0) firstFlags = flags;
    else ring.memory.writeU16(d + 14, flags);
    p++;
    if (p === ring.size) {
      p = 0;
      w = 1 - w;
    }
  }
  ring.memory.writeU16(ring.descAddr + 16 * ring.nextAvail + 14, firstFlags);
  ring.nextAvail = p;
  ring.availWrap = w;
  ring.numFree -= n;
  ring.numAdded += n;
  ring.freeHead = ring.nextId[id];
  ring.inUse[id] = 1;
  ring.descCount[id] = n;
  ring.writable[id] = writable.reduce((s, e) => s + e.len, 0);
  ring.table[id] = PACKED_NO_TABLE;
  ring.tokens[id] = token;
  ring.inFlight++;
}

export function getBufPacked<T>(
  ring: PackedDriverRing<T>,
  detach: (id: number) => T,
): UsedBuffer<T> | null {
  const d = ring.descAddr + 16 * ring.nextUsed;
  const flags = ring.memory.readU16(d + 14);
  if (bit(flags, AVAIL) !== ring.usedWrap || bit(flags, USED) !== ring.usedWrap) return null;
  const id = ring.memory.readU16(d + 12);
  if (id >= ring.size || ring.inUse[id] === 0) {
    return breakPackedDriverRing(ring, "2.8.22/D1", `used id ${id} is not in flight`, { id });
  }
  let len = 0;
  if (flags & WRITE) {
    len = ring.memory.readU32(d + 8);
    if (len > ring.writable[id]) {
      return breakPackedDriverRing(ring, "2.8.4/D2", `len ${len} too large`, { id, len });
    }
  }
  ring.nextUsed += ring.descCount[id];
  if (ring.nextUsed >= ring.size) {
    ring.nextUsed -= ring.size;
    ring.usedWrap = 1 - ring.usedWrap;
  }
  return { token: detach(id), len };
}
