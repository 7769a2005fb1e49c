// Mistake: elements are handed to the device model without checking that they lie in guest RAM.
// Source: none
// Must fail: "the walk refuses a list that breaks 2.8.4/D1" [2.8.4/D1]

import { breakPackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";
import type {
  PackedChainRecord,
  PackedDeviceRing,
} from "../../../../virtqueue/packed/device_ring.ts";

export {
  addPacked,
  descAvailablePacked,
  getBufPacked,
  pushUsedPacked,
} from "../correct/straight_line.ts";

const AVAIL = 1 << 7;
const USED = 1 << 15;
const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;

function bit(flags: number, mask: number): number {
  return (flags & mask) !== 0 ? 1 : 0;
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
