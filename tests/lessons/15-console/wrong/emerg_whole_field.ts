// Mistake: Any offset inside the 4-byte emerg_wr field counts as an emergency write, so a
// byte write to its second byte sends a character too.
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
  return offset >= 8 && offset < 12 ? value & 0xff : -1;
}
