// Mistake: cols and rows are stored high byte first; a little-endian driver reads 80
// columns as 20480.
// Source: none
// Must fail: "cols and rows are little-endian 16-bit fields at offsets 0 and 2" [2.5.2/1]

import type { ConsoleSize } from "../../../../devices/console/backends.ts";

export {
  emergencyWriteByte,
  fillReceiveChain,
  postReceiveBuffers,
  postTransmitBuffer,
  readConsoleSize,
  receivedBytes,
  takeTransmitChain,
  transmitChunks,
} from "../correct/loops.ts";

export function consoleConfigSpace(size: ConsoleSize | null): Uint8Array {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  if (size) {
    view.setUint16(0, size.cols);
    view.setUint16(2, size.rows);
  }
  view.setUint32(4, 1, true);
  return bytes;
}
