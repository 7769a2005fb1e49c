// Correct: loops over the chain's buffers with explicit counters, the cursor
// always moved on to the next buffer's start, the spec's wording in the
// reports, and the size read cols first.

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type {
  ChainStreamParts,
  DescriptorChain,
  DriverQueue,
} from "../../../../virtqueue/types.ts";
import type { ConsoleSize } from "../../../../devices/console/backends.ts";
import type { TransmitCursor } from "../../../../devices/console/transmit.ts";
import type { ConsoleConfigReader } from "../../../../devices/console/config.ts";

export function fillReceiveChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  input: Uint8Array,
  reporter: ConformanceReporter,
  write: ChainStreamParts["writeChain"],
): number {
  if (chain.readable.length > 0) {
    reporter.report(
      "5.3.6.1/1",
      `The driver put a device-readable buffer in the receiveq (chain ${chain.head})`,
      { head: chain.head },
      "chain returned with len 0",
    );
    return -1;
  }
  const n = Math.min(input.length, chain.writableLength);
  return write(memory, chain.writable, input.subarray(0, n), 0);
}

export function takeTransmitChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  cursor: TransmitCursor,
  dest: Uint8Array,
  reporter: ConformanceReporter,
  read: ChainStreamParts["readChain"],
): number {
  if (chain.writable.length > 0) {
    if (cursor.segment === 0 && cursor.offset === 0) {
      reporter.report(
        "5.3.6.1/2",
        `The driver put a device-writable buffer in the transmitq (chain ${chain.head})`,
        { head: chain.head },
        "chain returned unsent",
      );
    }
    return -1;
  }
  let start = cursor.offset;
  for (let i = 0; i < cursor.segment; i++) start += chain.readable[i].len;
  const left = chain.readableLength - start;
  const want = Math.min(dest.length, left);
  if (want <= 0) return 0;
  const n = read(memory, chain.readable, dest.subarray(0, want), start);
  let moved = n;
  while (moved > 0) {
    const room = chain.readable[cursor.segment].len - cursor.offset;
    if (moved >= room) {
      moved -= room;
      cursor.segment++;
      cursor.offset = 0;
    } else {
      cursor.offset += moved;
      moved = 0;
    }
  }
  return n;
}

export function emergencyWriteByte(offset: number, value: number): number {
  if (offset !== 8) return -1;
  return value & 0xff;
}

export function consoleConfigSpace(size: ConsoleSize | null): Uint8Array {
  const bytes = new Uint8Array(12);
  if (size) {
    bytes[0] = size.cols & 0xff;
    bytes[1] = size.cols >> 8;
    bytes[2] = size.rows & 0xff;
    bytes[3] = size.rows >> 8;
  }
  bytes[4] = 1; // max_nr_ports
  return bytes;
}

export function postReceiveBuffers(
  queue: DriverQueue<number>,
  buffers: readonly number[],
  size: number,
  driverOk: boolean,
): boolean {
  if (buffers.length === 0) return false;
  for (const addr of buffers) queue.add([], [{ addr, len: size }], addr);
  const notify = queue.kickPrepare();
  return driverOk && notify;
}

export function receivedBytes(
  memory: GuestMemory,
  buffer: number,
  size: number,
  len: number,
  reporter: ConformanceReporter,
): Uint8Array {
  let n = len;
  if (n > size) {
    reporter.report(
      "2.7.8.2/2",
      `The device says it wrote ${len} bytes into a ${size}-byte buffer`,
      { len, size },
      `only ${size} taken`,
    );
    n = size;
  }
  const out = new Uint8Array(n);
  memory.read(buffer, out);
  return out;
}

export function transmitChunks(data: Uint8Array, chunkSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const end = Math.min(at + chunkSize, data.length);
    out.push(data.subarray(at, end));
    at = end;
  }
  return out;
}

export function postTransmitBuffer<T>(
  queue: DriverQueue<T>,
  addr: number,
  len: number,
  token: T,
): void {
  queue.add([{ addr, len }], [], token);
}

export function readConsoleSize(device: ConsoleConfigReader): ConsoleSize {
  return device.readConfigConsistent(() => {
    const cols = device.readConfig(0, 2);
    const rows = device.readConfig(2, 2);
    return { cols, rows };
  });
}
