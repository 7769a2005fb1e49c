/**
 * Block backends: the storage behind a virtio block device (docs/ARCHITECTURE.md §1).
 * {@linkcode MemoryBlockBackend} keeps the disk in an array (tests,
 * notebooks); {@linkcode FileBlockBackend} serves a raw disk image file with
 * positional I/O, so any number of requests can be in flight at once.
 *
 * Offsets and lengths are in bytes. The device only ever asks for whole
 * 512-byte sectors inside {@linkcode BlockBackend.size}.
 *
 * @module
 */

import { type FileHandle, open } from "node:fs/promises";
import { abortError } from "../common.ts";
import * as blk from "./constants.ts";
import { type HolePuncher, openHolePuncher } from "./punch_hole.ts";

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  SECTOR_SIZE,
} = blk;

/**
 * The storage behind a block device. Every method is asynchronous; several
 * calls may be in flight at once, on different or even the same ranges.
 *
 * The `signal` contract: the device passes an `AbortSignal` that it aborts
 * when a device or queue reset makes the request stale. Once it is aborted,
 * the backend must not write into `dest` or read from `src` any more, because
 * they are views of guest memory the driver may already reuse. (The I/O on
 * the storage itself may still happen: a write in flight at a reset has an
 * undefined outcome, as on real disks.)
 */
export interface BlockBackend {
  /** Addressable size in bytes, a multiple of 512. */
  readonly size: number;
  /** Whether writes are refused (the device then offers VIRTIO_BLK_F_RO). */
  readonly readOnly: boolean;
  /** The device ID string for VIRTIO_BLK_T_GET_ID (ASCII, at most 20 bytes), if the backend has one. */
  readonly id?: string;
  /**
   * Fills `dest` with the bytes at `offset`.
   *
   * @param offset Byte offset, with `offset + dest.length <= size`.
   * @param dest Receives exactly `dest.length` bytes.
   * @param signal Aborted when the caller no longer owns `dest`.
   * @throws {BlockBackendError} On an I/O error or an out-of-range access.
   */
  read(offset: number, dest: Uint8Array, signal?: AbortSignal): Promise<void>;
  /**
   * Stores `src` at `offset`.
   *
   * @param offset Byte offset, with `offset + src.length <= size`.
   * @param src The bytes.
   * @param signal Aborted when the caller no longer owns `src`.
   * @throws {BlockBackendError} On an I/O error, an out-of-range access or a read-only backend.
   */
  write(offset: number, src: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Makes every completed write durable (for a file: `fsync`). */
  flush(): Promise<void>;
  /** Releases the storage; later calls fail. Calling it twice does nothing. */
  close(): Promise<void>;
  /**
   * Whether {@linkcode discard} and an unmapping {@linkcode writeZeroes} can
   * deallocate storage (the device's `write_zeroes_may_unmap`, 5.2.6.2/7).
   */
  readonly canDeallocate?: boolean;
  /**
   * Discards a range: deallocates it when the storage can, else writes
   * zeroes over it; either way it reads back as zeroes. Optional: a backend
   * without it makes the device not offer VIRTIO_BLK_F_DISCARD.
   *
   * @param offset Byte offset, with `offset + length <= size`.
   * @param length Bytes, a multiple of 512.
   * @param signal Aborted when the request became stale (a reset).
   * @returns Whether the range was deallocated (`false`: zeroes were written).
   * @throws {BlockBackendError} On an I/O error, an out-of-range access or a read-only backend.
   */
  discard?(offset: number, length: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * Writes zeroes over a range; with `unmap`, deallocates it instead when
   * the storage can. The range reads back as zeroes afterwards. Optional: a
   * backend without it makes the device not offer VIRTIO_BLK_F_WRITE_ZEROES.
   *
   * @param offset Byte offset, with `offset + length <= size`.
   * @param length Bytes, a multiple of 512.
   * @param unmap Whether deallocating is allowed.
   * @param signal Aborted when the request became stale (a reset).
   * @returns Whether the range was deallocated.
   * @throws {BlockBackendError} On an I/O error, an out-of-range access or a read-only backend.
   */
  writeZeroes?(
    offset: number,
    length: number,
    unmap: boolean,
    signal?: AbortSignal,
  ): Promise<boolean>;
}

/** A backend operation failed. */
export class BlockBackendError extends Error {
  /** `"out-of-range"`, `"read-only"`, `"closed"`, `"short-read"` or `"io-error"`. */
  readonly code: string;
  /** Byte offset of the operation, or -1. */
  readonly offset: number;
  /** Length of the operation in bytes, or 0. */
  readonly length: number;

  /**
   * Records what failed and where.
   *
   * @param code A short machine-readable reason.
   * @param message One sentence with the values that matter.
   * @param offset Byte offset, or -1.
   * @param length Length in bytes, or 0.
   * @param options The underlying error, if any.
   */
  constructor(code: string, message: string, offset = -1, length = 0, options?: ErrorOptions) {
    super(message, options);
    this.name = "BlockBackendError";
    this.code = code;
    this.offset = offset;
    this.length = length;
  }
}

function checkRange(size: number, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) ||
    offset + length > size
  ) {
    throw new BlockBackendError(
      "out-of-range",
      `Access of ${length} byte(s) at offset ${offset} is outside the ${size}-byte disk`,
      offset,
      length,
    );
  }
}

/** Options for {@linkcode MemoryBlockBackend}. */
export interface MemoryBlockBackendOptions {
  /** Refuse writes (default `false`). */
  readonly readOnly?: boolean;
  /** Device ID string. */
  readonly id?: string;
}

/**
 * A disk held in memory. Reads and writes copy synchronously inside the
 * call, so they never touch the caller's buffer after returning.
 *
 * @example
 * ```ts
 * import { MemoryBlockBackend } from "./backends.ts";
 * const disk = new MemoryBlockBackend(1 << 20); // 1 MiB of zeroes
 * await disk.write(512, new Uint8Array(512).fill(7));
 * ```
 */
export class MemoryBlockBackend implements BlockBackend {
  /** Size in bytes. */
  readonly size: number;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  /** Device ID string, if given. */
  readonly id?: string;
  /** The disk contents (live: changes show through). */
  readonly data: Uint8Array;
  /** Calls to {@linkcode flush} so far. */
  flushes = 0;
  #closed = false;

  /**
   * Creates a disk in memory.
   *
   * @param sizeOrData A size in bytes (a multiple of 512; zero-filled), or the
   *   contents (copied; the length must be a multiple of 512).
   * @param options Read-only flag and device ID.
   * @throws {RangeError} If the size is not a positive multiple of 512.
   */
  constructor(sizeOrData: number | Uint8Array, options: MemoryBlockBackendOptions = {}) {
    const size = typeof sizeOrData === "number" ? sizeOrData : sizeOrData.length;
    if (!Number.isSafeInteger(size) || size <= 0 || size % SECTOR_SIZE !== 0) {
      throw new RangeError(`Disk size ${size} is not a positive multiple of ${SECTOR_SIZE} bytes`);
    }
    this.size = size;
    this.data = typeof sizeOrData === "number" ? new Uint8Array(size) : sizeOrData.slice();
    this.readOnly = options.readOnly ?? false;
    if (options.id !== undefined) this.id = options.id;
  }

  /** Copies bytes out of the disk. */
  read(offset: number, dest: Uint8Array, signal?: AbortSignal): Promise<void> {
    try {
      this.#check(signal, "Read");
      checkRange(this.size, offset, dest.length);
      dest.set(this.data.subarray(offset, offset + dest.length));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Copies bytes into the disk. */
  write(offset: number, src: Uint8Array, signal?: AbortSignal): Promise<void> {
    try {
      this.#check(signal, "Write");
      if (this.readOnly) {
        throw new BlockBackendError("read-only", "Disk is read-only", offset, src.length);
      }
      checkRange(this.size, offset, src.length);
      this.data.set(src, offset);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Memory has nothing to deallocate: discards and write zeroes write zeroes. */
  readonly canDeallocate = false;

  /** Zeroes the range (memory has nothing to deallocate); resolves `false`. */
  discard(offset: number, length: number, signal?: AbortSignal): Promise<boolean> {
    return this.writeZeroes(offset, length, true, signal);
  }

  /** Zeroes the range; resolves `false` (nothing deallocated). */
  writeZeroes(
    offset: number,
    length: number,
    _unmap: boolean,
    signal?: AbortSignal,
  ): Promise<boolean> {
    try {
      this.#check(signal, "Write zeroes");
      if (this.readOnly) {
        throw new BlockBackendError("read-only", "Disk is read-only", offset, length);
      }
      checkRange(this.size, offset, length);
      this.data.fill(0, offset, offset + length);
      return Promise.resolve(false);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Nothing to make durable; counts the call. */
  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    this.flushes++;
    return Promise.resolve();
  }

  /** Refuses further I/O. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #check(signal: AbortSignal | undefined, what: string): void {
    if (this.#closed) throw closedError();
    if (signal?.aborted) throw abortError(what);
  }
}

function closedError(): BlockBackendError {
  return new BlockBackendError("closed", "Disk backend is closed");
}

// ------------------------------------------------------------ image files

/** Why a disk image cannot be opened. */
export type BlockImageErrorCode =
  | "not-found"
  | "is-directory"
  | "not-a-file"
  | "empty"
  | "too-small"
  | "permission-denied"
  | "locked"
  | "io-error";

/** A disk image cannot be used; the message is one line fit for a CLI. */
export class BlockImageError extends Error {
  /** What is wrong with it. */
  readonly code: BlockImageErrorCode;
  /** The path as given. */
  readonly path: string;

  /**
   * Records what is wrong with the image.
   *
   * @param code What is wrong.
   * @param path The path as given.
   * @param message One sentence naming the path and the values that matter.
   * @param options The underlying error, if any.
   */
  constructor(code: BlockImageErrorCode, path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BlockImageError";
    this.code = code;
    this.path = path;
  }
}

/** Options for {@linkcode FileBlockBackend.open}. */
export interface FileBlockBackendOptions {
  /** Open the image read-only (default `false`): the device then offers VIRTIO_BLK_F_RO. */
  readonly readOnly?: boolean;
  /** Device ID string (default: none, the device picks its own). */
  readonly id?: string;
  /**
   * Take an advisory lock on the image while it is open (default `true`):
   * exclusive when opened read-write, shared when read-only, as QEMU locks
   * its images. A second writer, or a writer while someone reads, is
   * refused with `"locked"` instead of racing on the same sectors.
   */
  readonly lock?: boolean;
}

/**
 * A raw disk image file. I/O is positional (`pread`/`pwrite` through
 * `node:fs/promises` `FileHandle.read`/`write` with a position), so requests
 * in flight at the same time never race on a shared file offset; `flush`
 * calls `fsync`.
 *
 * When a caller passes an `AbortSignal` (the device always does), reads go
 * to a private buffer first and are copied into `dest` only if the signal
 * is still clear, and writes are copied out of `src` before the call
 * returns: the thread-pool I/O then never touches guest memory after a
 * reset. Without a signal the I/O goes straight to the caller's buffer.
 *
 * A file whose size is not a multiple of 512 is served up to its last whole
 * sector; the {@linkcode tailBytes} after it are not addressable and never
 * touched.
 *
 * While open, the image holds an advisory lock (`flock`, through
 * `Deno.FsFile.tryLock`): exclusive for a read-write backend, shared for a
 * read-only one. Processes that all lock (every `lab` command does) cannot
 * write an image another one is using, so two writers never interleave
 * read-modify-write cycles on a shared sector; a process that ignores
 * advisory locks is not stopped.
 *
 * Discard and write zeroes punch holes (`fallocate` with
 * `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`, through FFI: see
 * `punch_hole.ts`), so the file's allocated size shrinks and the range reads
 * back as zeroes; where holes cannot be punched (not Linux, no
 * `--allow-ffi`, a file system without them) they write zeroes instead.
 * Whether the file system punches holes is asked once at open (`fstatfs`,
 * which changes nothing): {@linkcode canDeallocate}.
 *
 * Permissions: `--allow-read` for the path, and `--allow-write` unless it is
 * opened read-only; `--allow-ffi` to punch holes.
 */
export class FileBlockBackend implements BlockBackend {
  /** The path as given. */
  readonly path: string;
  /** Addressable size in bytes: the file size rounded down to a multiple of 512. */
  readonly size: number;
  /** The file size in bytes at open time. */
  readonly fileSize: number;
  /** Bytes after the last whole sector (0 to 511), not addressable. */
  readonly tailBytes: number;
  /** Whether the file was opened read-only. */
  readonly readOnly: boolean;
  /** Device ID string, if given. */
  readonly id?: string;
  readonly #handle: FileHandle;
  readonly #lock: Deno.FsFile | null;
  #closed = false;
  #flushes = 0;
  #puncher: HolePuncher | null;

  private constructor(
    path: string,
    handle: FileHandle,
    lock: Deno.FsFile | null,
    fileSize: number,
    options: FileBlockBackendOptions,
  ) {
    this.path = path;
    this.#handle = handle;
    this.#lock = lock;
    this.fileSize = fileSize;
    this.tailBytes = fileSize % SECTOR_SIZE;
    this.size = fileSize - this.tailBytes;
    this.readOnly = options.readOnly ?? false;
    if (options.id !== undefined) this.id = options.id;
    this.#puncher = this.readOnly ? null : probePuncher(handle.fd);
  }

  /**
   * Whether discards and unmapping write zeroes punch holes (else they write
   * zeroes). Can turn `false` while open, if the file system refuses a punch.
   */
  get canDeallocate(): boolean {
    return this.#puncher !== null;
  }

  /**
   * Bytes the file occupies on its file system now (`st_blocks × 512`), or
   * `null` where the platform does not say: smaller than {@linkcode fileSize}
   * for a sparse image.
   */
  async allocatedBytes(): Promise<number | null> {
    const info = await Deno.stat(this.path);
    return info.blocks === null ? null : info.blocks * 512;
  }

  /**
   * Opens a disk image, checking it first. Opening never modifies the file
   * (no create, no truncate, no write).
   *
   * @param path Path of the image.
   * @param options Read-only flag and device ID.
   * @returns The backend.
   * @throws {BlockImageError} With `code` `"not-found"` (no such file),
   *   `"is-directory"`, `"not-a-file"` (a device node, FIFO or socket),
   *   `"empty"` (0 bytes), `"too-small"` (under one 512-byte sector),
   *   `"permission-denied"` (cannot be opened as asked, for example no write
   *   permission when opened read-write), `"locked"` (another process
   *   holds a conflicting lock on it: see {@linkcode FileBlockBackendOptions.lock}),
   *   or `"io-error"`.
   */
  static async open(
    path: string,
    options: FileBlockBackendOptions = {},
  ): Promise<FileBlockBackend> {
    const readOnly = options.readOnly ?? false;
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (e) {
      throw imageError(path, e, readOnly);
    }
    checkInfo(path, { isFile: info.isFile, isDirectory: info.isDirectory, size: info.size });
    let handle: FileHandle;
    try {
      handle = await open(path, readOnly ? "r" : "r+");
    } catch (e) {
      throw imageError(path, e, readOnly);
    }
    try {
      // Check again through the handle: the path may have changed since stat.
      const stat = await handle.stat();
      const size = Number(stat.size);
      checkInfo(path, { isFile: stat.isFile(), isDirectory: stat.isDirectory(), size });
      const lock = (options.lock ?? true) ? await lockImage(path, !readOnly) : null;
      return new FileBlockBackend(path, handle, lock, size, { ...options, readOnly });
    } catch (e) {
      await handle.close();
      throw e instanceof BlockImageError ? e : imageError(path, e, readOnly);
    }
  }

  /** Calls to {@linkcode flush} that completed (each one an `fsync`). */
  get flushes(): number {
    return this.#flushes;
  }

  /** Reads with `pread`, retrying short reads; end of file inside the disk is an error. */
  async read(offset: number, dest: Uint8Array, signal?: AbortSignal): Promise<void> {
    this.#check(signal, "Read");
    checkRange(this.size, offset, dest.length);
    const target = signal ? new Uint8Array(dest.length) : dest;
    let done = 0;
    while (done < target.length) {
      let n: number;
      try {
        ({ bytesRead: n } = await this.#handle.read(
          target,
          done,
          target.length - done,
          offset + done,
        ));
      } catch (e) {
        throw ioError("Read", offset, dest.length, e);
      }
      if (n === 0) {
        throw new BlockBackendError(
          "short-read",
          `Read of ${dest.length} byte(s) at offset ${offset} hit the end of ${this.path} after ` +
            `${done} byte(s): the image shrank`,
          offset,
          dest.length,
        );
      }
      done += n;
    }
    if (signal) {
      if (signal.aborted) throw abortError("Read");
      dest.set(target);
    }
  }

  /** Writes with `pwrite`, retrying short writes. */
  async write(offset: number, src: Uint8Array, signal?: AbortSignal): Promise<void> {
    this.#check(signal, "Write");
    if (this.readOnly) {
      throw new BlockBackendError(
        "read-only",
        `Disk image ${this.path} is open read-only`,
        offset,
        src.length,
      );
    }
    checkRange(this.size, offset, src.length);
    const data = signal ? src.slice() : src;
    let done = 0;
    while (done < data.length) {
      try {
        const { bytesWritten } = await this.#handle.write(
          data,
          done,
          data.length - done,
          offset + done,
        );
        done += bytesWritten;
      } catch (e) {
        throw ioError("Write", offset, src.length, e);
      }
    }
  }

  /** Punches a hole over the range, or writes zeroes where that cannot be done. */
  discard(offset: number, length: number, signal?: AbortSignal): Promise<boolean> {
    return this.writeZeroes(offset, length, true, signal);
  }

  /**
   * Zeroes the range: punches a hole when `unmap` allows it and the file
   * system can, else writes zeroes, 1 MiB at a time (stopping between
   * chunks if `signal` is aborted).
   */
  async writeZeroes(
    offset: number,
    length: number,
    unmap: boolean,
    signal?: AbortSignal,
  ): Promise<boolean> {
    this.#check(signal, "Write zeroes");
    if (this.readOnly) {
      throw new BlockBackendError(
        "read-only",
        `Disk image ${this.path} is open read-only`,
        offset,
        length,
      );
    }
    checkRange(this.size, offset, length);
    if (length === 0) return false;
    if (unmap && this.#puncher) {
      let punched: boolean;
      try {
        punched = this.#puncher.punch(this.#handle.fd, offset, length);
      } catch (e) {
        throw ioError("Hole punch", offset, length, e);
      }
      if (punched) return true;
      this.#puncher = null; // the file system said no: write zeroes from now on
    }
    let done = 0;
    while (done < length) {
      this.#check(signal, "Write zeroes");
      const n = Math.min(ZEROES.length, length - done);
      try {
        const { bytesWritten } = await this.#handle.write(ZEROES, 0, n, offset + done);
        done += bytesWritten;
      } catch (e) {
        throw ioError("Write zeroes", offset, length, e);
      }
    }
    return false;
  }

  /** `fsync`: completed writes reach stable storage before this resolves. */
  async flush(): Promise<void> {
    this.#check(undefined, "Flush");
    try {
      await this.#handle.sync();
    } catch (e) {
      throw ioError("Flush", -1, 0, e);
    }
    this.#flushes++;
  }

  /** Closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#handle.close();
    } finally {
      this.#lock?.close(); // closing the descriptor releases the lock
    }
  }

  #check(signal: AbortSignal | undefined, what: string): void {
    if (this.#closed) throw closedError();
    if (signal?.aborted) throw abortError(what);
  }
}

/** The zeroes a file backend writes where it cannot punch (never written to). */
const ZEROES = new Uint8Array(1024 * 1024);

/**
 * The process's hole puncher if this file's file system punches holes
 * (asked with `fstatfs`, which changes nothing: opening never modifies the
 * image, not even its times).
 */
function probePuncher(fd: number): HolePuncher | null {
  const puncher = openHolePuncher();
  return puncher !== null && puncher.canPunch(fd) ? puncher : null;
}

/**
 * Takes the image's advisory lock on a descriptor of its own, without
 * waiting: exclusive for a writer, shared for a reader.
 */
async function lockImage(path: string, exclusive: boolean): Promise<Deno.FsFile> {
  const file = await Deno.open(path, { read: true });
  let locked: boolean;
  try {
    locked = await file.tryLock(exclusive);
  } catch (e) {
    file.close();
    throw e;
  }
  if (!locked) {
    file.close();
    throw new BlockImageError(
      "locked",
      path,
      `Disk image ${path} is in use by another process (${
        exclusive ? "it holds a lock on the image" : "it has the image open for writing"
      }); close that first`,
    );
  }
  return file;
}

function checkInfo(
  path: string,
  info: { isFile: boolean; isDirectory: boolean; size: number },
): void {
  if (info.isDirectory) {
    throw new BlockImageError(
      "is-directory",
      path,
      `Disk image ${path} is a directory, not a file`,
    );
  }
  if (!info.isFile) {
    throw new BlockImageError(
      "not-a-file",
      path,
      `Disk image ${path} is not a regular file (a device node, FIFO or socket)`,
    );
  }
  if (info.size === 0) {
    throw new BlockImageError("empty", path, `Disk image ${path} is empty (0 bytes)`);
  }
  if (info.size < SECTOR_SIZE) {
    throw new BlockImageError(
      "too-small",
      path,
      `Disk image ${path} is ${info.size} bytes, less than one ${SECTOR_SIZE}-byte sector`,
    );
  }
}

function imageError(path: string, e: unknown, readOnly: boolean): BlockImageError {
  const code = (e as { code?: unknown }).code;
  const how = readOnly ? "reading" : "reading and writing";
  if (e instanceof Deno.errors.NotFound || code === "ENOENT") {
    return new BlockImageError("not-found", path, `Disk image ${path} does not exist`, {
      cause: e,
    });
  }
  if (code === "EISDIR" || e instanceof Deno.errors.IsADirectory) {
    return new BlockImageError(
      "is-directory",
      path,
      `Disk image ${path} is a directory, not a file`,
      {
        cause: e,
      },
    );
  }
  if (
    e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable ||
    code === "EACCES" || code === "EPERM" || code === "EROFS"
  ) {
    const hint = readOnly ? "" : " (open it read-only instead)";
    return new BlockImageError(
      "permission-denied",
      path,
      `Permission denied opening disk image ${path} for ${how}${hint}`,
      { cause: e },
    );
  }
  const detail = e instanceof Error ? e.message : String(e);
  return new BlockImageError("io-error", path, `Cannot open disk image ${path}: ${detail}`, {
    cause: e,
  });
}

function ioError(what: string, offset: number, length: number, e: unknown): BlockBackendError {
  if (e instanceof BlockBackendError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new BlockBackendError(
    "io-error",
    `${what} of ${length} byte(s) at offset ${offset} failed: ${detail}`,
    offset,
    length,
    { cause: e },
  );
}
