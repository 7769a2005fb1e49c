// Mistake: A write to emerg_wr sends the value written, not its low byte: 0x100 becomes a
// 'byte' the backend cannot send.
// Source: none
// Must fail: "emerg_wr sends its low byte, and nothing else is an emergency write" [5.3.5.1/2]

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
  return offset === 8 ? value : -1;
}
