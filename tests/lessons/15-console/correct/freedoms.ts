// Correct: takes every freedom the contract leaves: the cursor left at the
// end of a buffer taken whole, the transmit copy done one buffer at a time
// through `read`, a notification after DRIVER_OK even when the queue needs
// none, reports worded tersely with no values, copies for the output pieces,
// 0xff in every byte of the configuration space the contract leaves free,
// and rows read before cols.

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
  if (chain.readableLength > 0 || chain.readable.length > 0) {
    reporter.report("5.3.6.1/1", "readable buffer in receiveq", {}, "refused");
    return -1;
  }
  // One buffer at a time, each through the stream part.
  let done = 0;
  for (let i = 0; i < chain.writable.length && done < input.length; i++) {
    const take = Math.min(chain.writable[i].len, input.length - done);
    done += write(memory, [chain.writable[i]], input.subarray(done, done + take));
  }
  return done;
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
      reporter.report("5.3.6.1/2", "writable buffer in transmitq", {}, "refused");
    }
    return -1;
  }
  let got = 0;
  while (got < dest.length && cursor.segment < chain.readable.length) {
    const seg = chain.readable[cursor.segment];
    if (cursor.offset === seg.len) {
      cursor.segment++;
      cursor.offset = 0;
      continue;
    }
    const n = Math.min(seg.len - cursor.offset, dest.length - got);
    const copied = read(memory, [seg], dest.subarray(got, got + n), cursor.offset);
    got += copied;
    cursor.offset += copied; // left at seg.len when the buffer is done
    if (copied < n) break;
  }
  return got;
}

export function emergencyWriteByte(offset: number, value: number): number {
  return offset === 8 ? value % 256 : -1;
}

export function consoleConfigSpace(size: ConsoleSize | null): Uint8Array {
  const bytes = new Uint8Array(12).fill(0xff);
  if (size !== null) {
    const view = new DataView(bytes.buffer);
    view.setUint16(0, size.cols, true);
    view.setUint16(2, size.rows, true);
  }
  return bytes;
}

export function postReceiveBuffers(
  queue: DriverQueue<number>,
  buffers: readonly number[],
  size: number,
  driverOk: boolean,
): boolean {
  if (!buffers.length) return false;
  buffers.forEach((addr) => queue.add([], [{ addr, len: size }], addr));
  queue.kickPrepare(); // publishes; after DRIVER_OK one notification too many is allowed
  return driverOk;
}

export function receivedBytes(
  memory: GuestMemory,
  buffer: number,
  size: number,
  len: number,
  reporter: ConformanceReporter,
): Uint8Array {
  if (len > size) reporter.report("2.7.8.2/2", "used len too large", {}, "cut");
  return Uint8Array.from(memory.bytes(buffer, Math.min(len, size)));
}

export function transmitChunks(data: Uint8Array, chunkSize: number): Uint8Array[] {
  return Array.from(
    { length: Math.ceil(data.length / chunkSize) },
    (_, k) => data.slice(k * chunkSize, (k + 1) * chunkSize),
  );
}

export function postTransmitBuffer<T>(
  queue: DriverQueue<T>,
  addr: number,
  len: number,
  token: T,
): void {
  queue.add([{ addr, len }], [], token, {});
}

export function readConsoleSize(device: ConsoleConfigReader): ConsoleSize {
  const { rows, cols } = device.readConfigConsistent(() => ({
    rows: device.readConfig(2, 2),
    cols: device.readConfig(0, 2),
  }));
  return { cols, rows };
}
