// Mistake: cols and rows are read as one 32-bit word at offset 0 and split: an access wider
// than either 16-bit field.
// Source: none
// Must fail: "cols and rows are read at 16 bits, each at its own offset" [4.2.2.2/3]

import type { ConsoleSize } from "../../../../devices/console/backends.ts";
import type { ConsoleConfigReader } from "../../../../devices/console/config.ts";

export {
  consoleConfigSpace,
  emergencyWriteByte,
  fillReceiveChain,
  postReceiveBuffers,
  postTransmitBuffer,
  receivedBytes,
  takeTransmitChain,
  transmitChunks,
} from "../correct/loops.ts";

export function readConsoleSize(device: ConsoleConfigReader): ConsoleSize {
  const word = device.readConfigConsistent(() => device.readConfig(0, 4));
  return { cols: word & 0xffff, rows: word >>> 16 };
}
