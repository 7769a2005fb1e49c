// Mistake: each field is read on its own, outside the generation loop: a change
// between two reads goes unnoticed.
// Source: none
// Must fail: "every field comes from one configuration generation" [2.5.1/1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";
import { writeChain } from "../../../../virtqueue/chain.ts";
import type { BlockBackend } from "../../../../devices/blk/backends.ts";
import type { BlockConfig, BlockConfigReader } from "../../../../devices/blk/config.ts";
import type { BlockIoOptions } from "../../../../devices/blk/io.ts";
import type { BlockRequest } from "../../../../devices/blk/request.ts";
import { hasFeature } from "../../../../virtio/features.ts";

export async function executeBlockRequest(
  backend: BlockBackend,
  memory: GuestMemory,
  chain: DescriptorChain,
  request: BlockRequest,
  options: BlockIoOptions,
  write: ChainStreamParts["writeChain"] = writeChain,
): Promise<void> {
  if (request.op === "flush") return await backend.flush();
  if (request.op === "get-id") {
    write(memory, chain.writable, options.id, 0);
    return;
  }
  const isRead = request.op === "read";
  const buffers = isRead ? chain.writable : chain.readable;
  let skip = isRead ? 0 : 16;
  let done = 0;
  const calls: Promise<void>[] = [];
  for (const b of buffers) {
    if (done === request.length) break;
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const n = Math.min(b.len - skip, request.length - done);
    const view = memory.bytes(b.addr + skip, n);
    const at = request.offset + done;
    calls.push(
      isRead ? backend.read(at, view, options.signal) : backend.write(at, view, options.signal),
    );
    skip = 0;
    done += n;
  }
  const results = await Promise.allSettled(calls);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  if (!isRead && options.writeThrough) await backend.flush();
}

export function readBlockConfig(device: BlockConfigReader): BlockConfig {
  const f = device.features;
  const raw = ((
    fn: () => {
      capacity: bigint;
      sizeMax: number | null;
      segMax: number | null;
      blkSize: number | null;
      unused0: number;
    },
  ) => fn())(() => ({
    capacity: device.readConfig64(0),
    sizeMax: hasFeature(f, 1) ? device.readConfig(8, 4) : null,
    segMax: hasFeature(f, 2) ? device.readConfig(12, 4) : null,
    blkSize: hasFeature(f, 6) ? device.readConfig(20, 4) : null,
    unused0: device.readConfig(33, 1),
  }));
  if (raw.unused0 !== 0) {
    device.reporter.report("5.2.5.2/3", `unused0 reads ${raw.unused0}`, { value: raw.unused0 });
  }
  const b = raw.blkSize;
  if (b !== null && (b < 512 || b > 65536 || (b & (b - 1)) !== 0)) {
    throw new RangeError(`blk_size ${b} is not a power of two from 512 to 65536`);
  }
  return { capacity: raw.capacity, sizeMax: raw.sizeMax, segMax: raw.segMax, blkSize: b };
}

// The parts this mistake leaves alone: the correct solution's.
export { blockConfigSpace, blockTransferLimits, splitTransfer } from "../correct/straight_line.ts";
