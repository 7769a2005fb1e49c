// Mistake: A write to emerg_wr whose value does not fit in a byte is ignored, where the
// device must take it and send its low byte.
// Source: none
// Must fail: "a write to emerg_wr is taken, whatever its value" [5.3.5.1/1]

export {
  consoleConfigSpace,
  fillReceiveChain,
  postReceiveBuffers,
  postTransmitBuffer,
  readConsoleSize,
  receivedBytes,
  takeTransmitChain,
  transmitChunks,
} from "../correct/loops.ts";

export function emergencyWriteByte(offset: number, value: number): number {
  return offset === 8 && value <= 0xff ? value : -1;
}
