/**
 * A writer of cpio archives in the "newc" format (the `070701` magic), the
 * format the Linux kernel unpacks into its root file system at boot
 * (`Documentation/driver-api/early-userspace/buffer-format.rst`): each entry is
 * a 110-byte ASCII header of thirteen 8-digit hexadecimal fields, the path
 * name with its NUL, padding to 4 bytes, the data, padding to 4 bytes; the
 * archive ends with an entry named `TRAILER!!!`.
 *
 * @module
 */

/** `S_IFDIR`, `S_IFREG`, `S_IFLNK`, `S_IFCHR` from `<sys/stat.h>`. */
export const S_IFDIR = 0o040000;
/** Regular file type bits. */
export const S_IFREG = 0o100000;
/** Symbolic link type bits. */
export const S_IFLNK = 0o120000;
/** Character device type bits. */
export const S_IFCHR = 0o020000;

/** One entry of an archive. */
export type CpioEntry =
  | {
    /** A directory. */ readonly kind: "dir";
    /** Path inside the archive, without a leading `/`. */ readonly path: string;
    /** Permission bits (default 0o755). */ readonly mode?: number;
  }
  | {
    /** A regular file. */ readonly kind: "file";
    /** Path inside the archive, without a leading `/`. */ readonly path: string;
    /** Its contents. */ readonly data: Uint8Array;
    /** Permission bits (default 0o644). */ readonly mode?: number;
  }
  | {
    /** A symbolic link. */ readonly kind: "symlink";
    /** Path inside the archive, without a leading `/`. */ readonly path: string;
    /** What it points to. */ readonly target: string;
  }
  | {
    /** A character device node. */ readonly kind: "chardev";
    /** Path inside the archive, without a leading `/`. */ readonly path: string;
    /** Major number. */ readonly major: number;
    /** Minor number. */ readonly minor: number;
    /** Permission bits (default 0o600). */ readonly mode?: number;
  };

/** The newc header's magic. */
export const CPIO_NEWC_MAGIC = "070701";
/** The name of the last entry. */
export const CPIO_TRAILER = "TRAILER!!!";
/** Size of a newc header, in bytes. */
export const CPIO_HEADER_SIZE = 110;

const encoder = new TextEncoder();

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`cpio header field ${value} does not fit 8 hexadecimal digits`);
  }
  return value.toString(16).toUpperCase().padStart(8, "0");
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

/**
 * Builds a newc archive. Entries are written in the order given (a directory
 * must come before what it holds); inode numbers count from 1; every entry is
 * owned by root, with modification time 0 so that the same entries always give
 * the same bytes.
 *
 * @param entries The entries.
 * @returns The archive bytes, ending with the trailer (and padded to 512 bytes).
 * @throws {RangeError} If a path is empty, absolute or repeated, or a size does not fit the header.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildCpio } from "./cpio.ts";
 * const archive = buildCpio([{ kind: "file", path: "init", data: new Uint8Array([0x23]), mode: 0o755 }]);
 * assert.equal(new TextDecoder().decode(archive.subarray(0, 6)), "070701");
 * assert.equal(archive.length % 512, 0);
 * ```
 */
export function buildCpio(entries: readonly CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const seen = new Set<string>();
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    total += bytes.length;
    const padding = pad4(bytes.length);
    if (padding) {
      chunks.push(new Uint8Array(padding));
      total += padding;
    }
  };
  const header = (
    ino: number,
    mode: number,
    nlink: number,
    size: number,
    rdevMajor: number,
    rdevMinor: number,
    name: string,
  ) => {
    const nameBytes = encoder.encode(name + "\0");
    const fields = [
      CPIO_NEWC_MAGIC,
      hex8(ino),
      hex8(mode),
      hex8(0), // uid
      hex8(0), // gid
      hex8(nlink),
      hex8(0), // mtime
      hex8(size),
      hex8(0), // devmajor
      hex8(0), // devminor
      hex8(rdevMajor),
      hex8(rdevMinor),
      hex8(nameBytes.length),
      hex8(0), // check
    ];
    const head = encoder.encode(fields.join(""));
    const out = new Uint8Array(head.length + nameBytes.length);
    out.set(head);
    out.set(nameBytes, head.length);
    push(out);
  };
  let ino = 1;
  for (const entry of entries) {
    if (entry.path === "" || entry.path.startsWith("/") || entry.path.endsWith("/")) {
      throw new RangeError(`cpio path '${entry.path}' must be relative, without a trailing '/'`);
    }
    if (seen.has(entry.path)) throw new RangeError(`cpio path '${entry.path}' appears twice`);
    seen.add(entry.path);
    switch (entry.kind) {
      case "dir":
        header(ino++, S_IFDIR | (entry.mode ?? 0o755), 2, 0, 0, 0, entry.path);
        break;
      case "file":
        header(ino++, S_IFREG | (entry.mode ?? 0o644), 1, entry.data.length, 0, 0, entry.path);
        push(entry.data);
        break;
      case "symlink": {
        const target = encoder.encode(entry.target);
        header(ino++, S_IFLNK | 0o777, 1, target.length, 0, 0, entry.path);
        push(target);
        break;
      }
      case "chardev":
        header(
          ino++,
          S_IFCHR | (entry.mode ?? 0o600),
          1,
          0,
          entry.major,
          entry.minor,
          entry.path,
        );
        break;
    }
  }
  header(0, 0, 1, 0, 0, 0, CPIO_TRAILER);
  const padded = total + ((512 - (total % 512)) % 512);
  const archive = new Uint8Array(padded);
  let at = 0;
  for (const chunk of chunks) {
    archive.set(chunk, at);
    at += chunk.length;
  }
  return archive;
}

/** One entry as {@linkcode parseCpio} reads it back. */
export interface ParsedCpioEntry {
  /** Path name. */
  readonly path: string;
  /** `st_mode`: type and permission bits. */
  readonly mode: number;
  /** Contents (the link target for a symlink). */
  readonly data: Uint8Array;
  /** `rdevmajor`, `rdevminor`. */
  readonly rdev: readonly [number, number];
}

/**
 * Reads a newc archive back (up to the trailer): for tests and `lab doctor`-style checks.
 *
 * @param archive The archive bytes.
 * @returns The entries, in order, without the trailer.
 * @throws {RangeError} If a header is not newc or runs past the end.
 */
export function parseCpio(archive: Uint8Array): ParsedCpioEntry[] {
  const decoder = new TextDecoder();
  const entries: ParsedCpioEntry[] = [];
  let at = 0;
  for (;;) {
    if (at + CPIO_HEADER_SIZE > archive.length) {
      throw new RangeError(`cpio archive ends at byte ${at} without a trailer`);
    }
    const head = decoder.decode(archive.subarray(at, at + CPIO_HEADER_SIZE));
    if (!head.startsWith(CPIO_NEWC_MAGIC)) {
      throw new RangeError(`No newc magic at byte ${at}: '${head.slice(0, 6)}'`);
    }
    const field = (i: number) => parseInt(head.slice(6 + i * 8, 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const rdev: [number, number] = [field(9), field(10)];
    const nameStart = at + CPIO_HEADER_SIZE;
    const path = decoder.decode(archive.subarray(nameStart, nameStart + nameSize - 1));
    const dataStart = nameStart + nameSize + pad4(CPIO_HEADER_SIZE + nameSize);
    if (dataStart + size > archive.length) {
      throw new RangeError(`cpio entry '${path}' runs past the end of the archive`);
    }
    if (path === CPIO_TRAILER) return entries;
    entries.push({ path, mode, data: archive.subarray(dataStart, dataStart + size), rdev });
    at = dataStart + size + pad4(size);
  }
}
