// Mistake: The loop runs while at <= data.length, so output of an exact multiple of
// chunkSize (and empty output) ends with an empty piece: a zero-length buffer.
// Source: none
// Must fail: "output is cut into pieces of at most chunkSize, none empty, in order" [2.7.5/D3]

export {
  consoleConfigSpace,
  emergencyWriteByte,
  fillReceiveChain,
  postReceiveBuffers,
  postTransmitBuffer,
  readConsoleSize,
  receivedBytes,
  takeTransmitChain,
} from "../correct/loops.ts";

export function transmitChunks(data: Uint8Array, chunkSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at <= data.length; at += chunkSize) {
    out.push(data.subarray(at, Math.min(at + chunkSize, data.length)));
  }
  return out;
}
