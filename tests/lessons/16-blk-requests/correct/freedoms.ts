// Correct: takes every freedom the contract leaves. The parser returns a
// record of its own (never fills `request`), reads a whole header field by
// field and only a cut one through the stream part, words its reports its
// own way with no values; completion writes the status before zeroing; the
// builder returns new lists and leaves the caller's alone; a failed request
// always carries a reason.

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";
import type { RequirementId } from "../../../../conformance/requirements.ts";
import {
  type BlockDisk,
  type BlockDriverRequest,
  BlockIoError,
  type BlockRejection,
  type BlockRequest,
  type BlockRequestChain,
} from "../../../../devices/blk/request.ts";

export function parseBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  disk: BlockDisk,
  reporter: ConformanceReporter,
  _request?: BlockRequest,
  read?: ChainStreamParts["readChain"],
): BlockRequest | BlockRejection {
  const no = (type: number, id: RequirementId, complete = true): BlockRejection => ({
    op: "reject",
    type,
    status: 1,
    id,
    violation: reporter.report(id, "refused"),
    complete,
  });
  const w = chain.writable;
  if (chain.writableLength < 1) return no(-1, "5.2.6/D2", false);
  if (!memory.contains(w[w.length - 1].addr, w[w.length - 1].len)) return no(-1, "2.7.5/D2", false);
  for (const s of chain.readable) if (!memory.contains(s.addr, s.len)) return no(-1, "2.7.5/D2");
  for (const s of w) if (!memory.contains(s.addr, s.len)) return no(-1, "2.7.5/D2");
  if (chain.readableLength < 16) return no(-1, "5.2.6/D1");

  let type: number;
  let lo: number;
  let hi: number;
  const first = chain.readable[0];
  if (first.len >= 16) {
    type = memory.readU32(first.addr);
    lo = memory.readU32(first.addr + 8);
    hi = memory.readU32(first.addr + 12);
  } else {
    const h = new Uint8Array(16);
    (read ?? (() => 0))(memory, chain.readable, h, 0);
    const v = new DataView(h.buffer);
    [type, lo, hi] = [v.getUint32(0, true), v.getUint32(8, true), v.getUint32(12, true)];
  }
  const sector = Number((BigInt(hi) << 32n) | BigInt(lo));
  const rd = chain.readableLength - 16;
  const wd = chain.writableLength - 1;
  const accept = (op: BlockRequest["op"], offset: number, length: number, warnings: number) => ({
    op,
    type,
    sector,
    offset,
    length,
    warnings,
  });
  switch (type) {
    case 4: {
      let n = 0;
      if (lo || hi) n += reporter.report("5.2.6.1/3", "flush sector") ? 1 : 0;
      if (rd || wd) n += reporter.report("5.2.6.1/4", "flush data") ? 1 : 0;
      return accept("flush", 0, 0, n);
    }
    case 8:
      if (rd) return no(type, "5.2.6/D3");
      if (wd < 20) return no(type, "5.2.6.1/7");
      return accept("get-id", 0, 20, wd > 20 && reporter.report("5.2.6.1/7", "long id") ? 1 : 0);
    case 0:
    case 1: {
      const isIn = type === 0;
      if (isIn ? rd : wd) return no(type, "5.2.6/D3");
      const len = isIn ? wd : rd;
      if (len % 512) return no(type, "5.2.6.1/5");
      const end = ((BigInt(hi) << 32n) | BigInt(lo)) + BigInt(len / 512);
      if (end > BigInt(disk.capacity)) return no(type, "5.2.6.1/1");
      if (!isIn && disk.readOnly) {
        return { op: "reject", type, status: 1, id: "5.2.6.2/1", violation: null, complete: true };
      }
      let n = 0;
      if (disk.segMax != null || disk.sizeMax != null) {
        const segs = isIn ? w : chain.readable;
        let pos = isIn ? 0 : -16; // stream position relative to the data's start
        const shares = segs.map((s) => {
          const share = Math.max(0, Math.min(pos + s.len, len) - Math.max(pos, 0));
          pos += s.len;
          return share;
        }).filter((x) => x > 0);
        const tooMany = disk.segMax != null && shares.length > disk.segMax;
        const tooBig = disk.sizeMax != null && shares.some((x) => x > disk.sizeMax!);
        if (tooMany || tooBig) n = reporter.report("5.2.3/D1", "limits") ? 1 : 0;
      }
      return accept(isIn ? "read" : "write", sector * 512, len, n);
    }
    default:
      return { op: "reject", type, status: 2, id: null, violation: null, complete: true };
  }
}

export function completeBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  status: number,
  filled: number,
): number {
  const w = chain.writable;
  const last = w[w.length - 1];
  memory.writeU8(last.addr + last.len - 1, status);
  const dataEnd = chain.writableLength - 1;
  let pos = 0;
  let len = -1;
  for (const s of w) {
    if (!memory.contains(s.addr, s.len)) {
      if (len < 0) len = pos;
    } else {
      for (let k = Math.max(filled - pos, 0); k < s.len && pos + k < dataEnd; k++) {
        memory.writeU8(s.addr + k, 0);
      }
    }
    pos += s.len;
  }
  return len < 0 ? pos : len;
}

export function buildBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  _chain?: BlockRequestChain,
): BlockRequestChain {
  const sector = BigInt(request.sector);
  memory.writeU64(request.header.addr, BigInt(request.type));
  memory.writeU64(request.header.addr + 8, sector);
  memory.writeU8(request.status.addr, 0xff);
  const out = request.type === 1;
  return {
    readable: out ? [request.header, ...request.data] : [request.header],
    writable: out ? [request.status] : [...request.data, request.status],
  };
}

export function finishBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  usedLen: number,
): BlockIoError | null {
  const data = request.data.reduce((n, s) => n + s.len, 0);
  const rw = request.type === 0 || request.type === 1;
  const err = (status: number, why: string) =>
    new BlockIoError(request.type, BigInt(request.sector), rw ? data / 512 : 0, status, why);
  if (usedLen < (request.type === 1 ? 1 : data + 1)) return err(-1, "len short of the status");
  const status = memory.readU8(request.status.addr);
  return status === 0 ? null : err(status, `device said ${status}`);
}
