/**
 * Opening a disk image for the `lab` command: the image errors of
 * `FileBlockBackend.open` become one-line {@linkcode UserError}s, and a size
 * that is not a multiple of 512 gets a note saying what happens to the tail.
 *
 * @module
 */

import { BlockImageError, FileBlockBackend } from "../devices/blk/backends.ts";
import { formatSize } from "../guest/shell.ts";
import { UserError } from "./errors.ts";

/**
 * Opens an image file, or explains in one line why it cannot be used.
 *
 * @param path Path of the image.
 * @param options `readOnly` to open it read-only; `note` receives the tail note, if any.
 * @returns The backend (the caller closes it, or hands it to a machine that will).
 * @throws {UserError} For a missing file, a directory, an empty file, no permission, ...
 */
export async function openImage(
  path: string,
  options: { readonly readOnly: boolean; readonly note?: (line: string) => void },
): Promise<FileBlockBackend> {
  let backend: FileBlockBackend;
  try {
    backend = await FileBlockBackend.open(path, { readOnly: options.readOnly });
  } catch (error) {
    if (error instanceof BlockImageError) throw new UserError(error.message);
    throw error;
  }
  if (backend.tailBytes > 0) {
    (options.note ?? ((line) => console.error(line)))(
      `note: ${path} is ${backend.fileSize} bytes, not a multiple of 512: the disk is its first ` +
        `${backend.size / 512} whole sectors (${
          formatSize(backend.size)
        }); the last ${backend.tailBytes} ` +
        "byte(s) are not part of it and are never read or written",
    );
  }
  return backend;
}

/**
 * Parses a sector number given on the command line (decimal or `0x` hex).
 *
 * @param text What the user typed.
 * @param what Names the option in the error, e.g. `"--sector"`.
 * @throws {UserError} If it is not a non-negative integer.
 */
export function parseSectorArg(text: string, what: string): bigint {
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(text.trim())) {
    throw new UserError(`${what} must be a non-negative sector number, not '${text}'`);
  }
  return BigInt(text.trim());
}

/**
 * Parses a positive count given on the command line.
 *
 * @param text What the user typed.
 * @param what Names the option in the error.
 * @throws {UserError} If it is not a positive integer.
 */
export function parseCountArg(text: string, what: string): number {
  if (!/^[0-9]+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UserError(`${what} must be a positive number of sectors, not '${text}'`);
  }
  return Number(text);
}
