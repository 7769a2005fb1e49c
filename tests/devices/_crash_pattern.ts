/** The 512 bytes `_crash_writer_child.ts` writes to `sector` in `round`: both numbers, then a fill. */
export function sectorPattern(sector: number, round: number): Uint8Array {
  const bytes = new Uint8Array(512).fill((sector * 7 + round) & 0xff);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, sector, true);
  view.setUint32(4, round, true);
  return bytes;
}
