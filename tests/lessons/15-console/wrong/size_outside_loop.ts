// Mistake: cols and rows are read first and only then handed to the generation loop, which
// re-runs a function that reads nothing: a resize between the two reads gives a
// size the console never had.
// Source: none
// Must fail: "cols and rows come from one configuration snapshot" [2.5.1/1]

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
  const cols = device.readConfig(0, 2);
  const rows = device.readConfig(2, 2);
  return device.readConfigConsistent(() => ({ cols, rows }));
}
