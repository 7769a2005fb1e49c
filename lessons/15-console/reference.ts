// The reference for "virtio-console": the library's own implementation, bound to the exercise's names.
export {
  consoleConfigSpace,
  emergencyWriteByte,
  readConsoleSize,
} from "../../devices/console/config.ts";
export {
  fillReceiveChain,
  postReceiveBuffers,
  receivedBytes,
} from "../../devices/console/receive.ts";
export {
  postTransmitBuffer,
  takeTransmitChain,
  transmitChunks,
} from "../../devices/console/transmit.ts";
