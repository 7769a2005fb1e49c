/**
 * Hole punching for the file backend: `fallocate(fd, FALLOC_FL_PUNCH_HOLE |
 * FALLOC_FL_KEEP_SIZE, offset, length)` from libc, called through Deno's FFI.
 * A punched range reads back as zeroes and its blocks go back to the file
 * system; the file keeps its size. This is what QEMU's `raw` driver does for
 * a discard, and for a write zeroes with `unmap`, on Linux.
 *
 * It needs Linux with glibc (`libc.so.6`) and the `--allow-ffi` permission;
 * without either {@linkcode openHolePuncher} returns `null` and the backend
 * writes zeroes instead. A file system without hole punching answers
 * `EOPNOTSUPP`, which {@linkcode HolePuncher.punch} reports as `false`.
 *
 * @module
 */

/** `fallocate` mode bit: keep the file size even when the range reaches past the end. */
export const FALLOC_FL_KEEP_SIZE = 0x01;
/** `fallocate` mode bit: deallocate the range (it reads back as zeroes). Needs KEEP_SIZE. */
export const FALLOC_FL_PUNCH_HOLE = 0x02;

const EINTR = 4;
const ENOSYS = 38;
const EOPNOTSUPP = 95;

/** Deallocates ranges of open files. */
export interface HolePuncher {
  /**
   * Punches a hole into the file open on `fd`.
   *
   * @param fd An OS file descriptor open for writing.
   * @param offset Byte offset.
   * @param length Bytes, at least 1.
   * @returns `true` when the range is deallocated, `false` when the file
   *   system cannot punch holes (`EOPNOTSUPP`, `ENOSYS`): nothing changed.
   * @throws {Error} With the errno in its message for any other failure.
   */
  punch(fd: number, offset: number, length: number): boolean;
  /**
   * Whether the file system of the file open on `fd` is one that punches
   * holes (by `fstatfs`'s `f_type`: ext4, XFS, Btrfs, tmpfs, F2FS, OCFS2,
   * GFS2, overlayfs, ZFS). Asking changes nothing, not even the file's
   * times; an unknown file system counts as not punching.
   */
  canPunch(fd: number): boolean;
}

/** `f_type` magic numbers of Linux file systems whose `fallocate` punches holes. */
export const PUNCHING_FILE_SYSTEMS: ReadonlySet<number> = new Set([
  0xef53, // ext2/3/4 (ext4 punches; ext2/3 answer EOPNOTSUPP, handled at the first punch)
  0x58465342, // XFS
  0x9123683e, // Btrfs
  0x01021994, // tmpfs
  0xf2f52010, // F2FS
  0x7461636f, // OCFS2
  0x01161970, // GFS2
  0x794c7630, // overlayfs (passes fallocate to the upper layer)
  0x2fc12fc1, // ZFS
]);

/** Size of `struct statfs` on 64-bit Linux, with room to spare; `f_type` is its first field. */
const STATFS_BYTES = 256;

const SYMBOLS = {
  fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let cached: HolePuncher | null | undefined;

/**
 * The process's hole puncher, opened once: `null` when this is not Linux,
 * `libc.so.6` cannot be loaded, or FFI is not permitted (no `--allow-ffi`).
 */
export function openHolePuncher(): HolePuncher | null {
  if (cached !== undefined) return cached;
  cached = null;
  if (Deno.build.os !== "linux") return cached;
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch {
    return cached; // NotCapable without --allow-ffi, or no glibc
  }
  const errno = (): number => {
    const pointer = lib.symbols.__errno_location();
    return pointer === null ? -1 : new Deno.UnsafePointerView(pointer).getInt32();
  };
  const statfs = new BigInt64Array(STATFS_BYTES / 8);
  cached = {
    canPunch(fd: number): boolean {
      if (lib.symbols.fstatfs(fd, statfs) !== 0) return false;
      return PUNCHING_FILE_SYSTEMS.has(Number(BigInt.asUintN(32, statfs[0])));
    },
    punch(fd: number, offset: number, length: number): boolean {
      for (;;) {
        const result = lib.symbols.fallocate(
          fd,
          FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
          BigInt(offset),
          BigInt(length),
        );
        if (result === 0) return true;
        const code = errno();
        if (code === EINTR) continue;
        if (code === EOPNOTSUPP || code === ENOSYS) return false;
        throw new Error(
          `fallocate(PUNCH_HOLE) of ${length} byte(s) at offset ${offset} failed with errno ${code}`,
        );
      }
    },
  };
  return cached;
}
