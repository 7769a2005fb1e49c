// Correct: a table of request types (which side the data is on, the op),
// the header read byte by byte from the readable stream without the stream
// part, sectors as two u32 halves in doubles; fills and returns the
// caller's records; completes with memory.fill.

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type {
  BufferSegment,
  ChainStreamParts,
  DescriptorChain,
} from "../../../../virtqueue/types.ts";
import {
  type BlockDisk,
  type BlockDriverRequest,
  BlockIoError,
  type BlockOperation,
  type BlockRejection,
  type BlockRequest,
  type BlockRequestChain,
  emptyBlockRequest,
} from "../../../../devices/blk/request.ts";
import {
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "../../../../devices/blk/constants.ts";

interface Kind {
  readonly op: BlockOperation;
  /** Where the data must be: "w" device-writable, "r" device-readable, "-" none. */
  readonly data: "w" | "r" | "-";
}

const KINDS: Record<number, Kind> = {
  [VIRTIO_BLK_T_IN]: { op: "read", data: "w" },
  [VIRTIO_BLK_T_OUT]: { op: "write", data: "r" },
  [VIRTIO_BLK_T_FLUSH]: { op: "flush", data: "-" },
  [VIRTIO_BLK_T_GET_ID]: { op: "get-id", data: "w" },
};

/** Byte `n` of the stream the segments form. */
function streamByte(memory: GuestMemory, segs: readonly BufferSegment[], n: number): number {
  for (const s of segs) {
    if (n < s.len) return memory.readU8(s.addr + n);
    n -= s.len;
  }
  return 0;
}

function streamU32(memory: GuestMemory, segs: readonly BufferSegment[], at: number): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = v * 256 + streamByte(memory, segs, at + i);
  return v;
}

export function parseBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  disk: BlockDisk,
  reporter: ConformanceReporter,
  request: BlockRequest = emptyBlockRequest(),
  _read?: ChainStreamParts["readChain"],
): BlockRequest | BlockRejection {
  const fail = (type: number, id: BlockRejection["id"] & string, msg: string, complete = true) => ({
    op: "reject" as const,
    type,
    status: VIRTIO_BLK_S_IOERR,
    id,
    violation: reporter.report(id, `head ${chain.head}: ${msg}`, { head: chain.head }),
    complete,
  });
  const { readable, writable } = chain;
  if (writable.length === 0 || chain.writableLength === 0) {
    return fail(-1, "5.2.6/D2", "nothing writable for the status", false);
  }
  const last = writable[writable.length - 1];
  if (!memory.contains(last.addr, last.len)) return fail(-1, "2.7.5/D2", "status outside", false);
  if (readable.concat(writable).some((s) => !memory.contains(s.addr, s.len))) {
    return fail(-1, "2.7.5/D2", "a buffer outside RAM");
  }
  if (chain.readableLength < 16) return fail(-1, "5.2.6/D1", "short header");

  const type = streamU32(memory, readable, 0);
  const low = streamU32(memory, readable, 8);
  const high = streamU32(memory, readable, 12);
  const sector = high * 2 ** 32 + low;
  const readData = chain.readableLength - 16;
  const writeData = chain.writableLength - 1;
  const kind = KINDS[type];
  if (kind === undefined) {
    return {
      op: "reject",
      type,
      status: VIRTIO_BLK_S_UNSUPP,
      id: null,
      violation: null,
      complete: true,
    };
  }
  request.type = type;
  request.sector = sector;
  request.offset = 0;
  request.op = kind.op;
  request.warnings = 0;
  const warn = (id: "5.2.6.1/3" | "5.2.6.1/4" | "5.2.6.1/7" | "5.2.3/D1", msg: string) => {
    reporter.report(id, msg, { head: chain.head });
    request.warnings++;
  };

  if (kind.data === "-") {
    if (low !== 0 || high !== 0) warn("5.2.6.1/3", "flush sector not 0");
    if (readData !== 0 || writeData !== 0) warn("5.2.6.1/4", "flush with data");
    request.length = 0;
    return request;
  }
  if ((kind.data === "w" && readData !== 0) || (kind.data === "r" && writeData !== 0)) {
    return fail(type, "5.2.6/D3", "data the wrong way");
  }
  const length = kind.data === "w" ? writeData : readData;
  if (type === VIRTIO_BLK_T_GET_ID) {
    if (length < 20) return fail(type, "5.2.6.1/7", "GET_ID needs 20 bytes");
    if (length > 20) warn("5.2.6.1/7", "GET_ID longer than 20 bytes");
    request.length = 20;
    return request;
  }
  if (length % 512 !== 0) return fail(type, "5.2.6.1/5", "not whole sectors");
  // high >= 2^21 puts the sector at 2^53 or beyond: past any capacity.
  if (high >= 2 ** 21 || sector + length / 512 > disk.capacity) {
    return fail(type, "5.2.6.1/1", "past the end of the disk");
  }
  if (type === VIRTIO_BLK_T_OUT && disk.readOnly) {
    return {
      op: "reject",
      type,
      status: VIRTIO_BLK_S_IOERR,
      id: "5.2.6.2/1",
      violation: null,
      complete: true,
    };
  }
  const segMax = disk.segMax ?? Infinity;
  const sizeMax = disk.sizeMax ?? Infinity;
  const segs = kind.data === "w" ? writable : readable;
  let skip = kind.data === "w" ? 0 : 16;
  let left = length;
  let count = 0;
  let over = false;
  for (const s of segs) {
    if (left === 0) break;
    const take = Math.min(Math.max(s.len - skip, 0), left);
    skip = Math.max(skip - s.len, 0);
    if (take === 0) continue;
    count++;
    if (take > sizeMax) over = true;
    left -= take;
  }
  if (count > segMax || over) warn("5.2.3/D1", `${count} segments`);
  request.offset = sector * 512;
  request.length = length;
  return request;
}

export function completeBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  status: number,
  filled: number,
): number {
  const dataEnd = chain.writableLength - 1;
  let start = 0;
  let len = 0;
  let broken = false;
  for (const s of chain.writable) {
    const ok = memory.contains(s.addr, s.len);
    if (ok) {
      const from = Math.max(filled, start);
      const to = Math.min(dataEnd, start + s.len);
      if (to > from) memory.fill(s.addr + from - start, to - from, 0);
    }
    broken ||= !ok;
    if (!broken) len += s.len;
    start += s.len;
  }
  const last = chain.writable.at(-1)!;
  memory.writeU8(last.addr + last.len - 1, status);
  return len;
}

export function buildBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  chain: BlockRequestChain = { readable: [], writable: [] },
): BlockRequestChain {
  const h = request.header.addr;
  const sector = BigInt(request.sector);
  memory.writeU32(h, request.type);
  memory.writeU32(h + 4, 0);
  memory.writeU32(h + 8, Number(sector & 0xffff_ffffn));
  memory.writeU32(h + 12, Number(sector >> 32n));
  memory.writeU8(request.status.addr, 0xff);
  const out = request.type === VIRTIO_BLK_T_OUT;
  chain.readable.splice(0, chain.readable.length, request.header, ...(out ? request.data : []));
  chain.writable.splice(0, chain.writable.length, ...(out ? [] : request.data), request.status);
  return chain;
}

export function finishBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  usedLen: number,
): BlockIoError | null {
  const { type } = request;
  let data = 0;
  for (const s of request.data) data += s.len;
  const count = type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_OUT ? data / 512 : 0;
  const writable = KINDS[type]?.data === "w" ? data + 1 : 1;
  if (usedLen < writable) return new BlockIoError(type, BigInt(request.sector), count, -1, "short");
  const status = memory.readU8(request.status.addr);
  if (status === VIRTIO_BLK_S_OK) return null;
  return new BlockIoError(type, BigInt(request.sector), count, status);
}
