/**
 * `lab disk info|read|write|discard|zero FILE`: disk image tools that go
 * through the whole stack (block driver → split virtqueue → virtio-mmio →
 * block device → image file), never straight to the file.
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { createHash } from "node:crypto";
import { createMachine, type LabMachine } from "../machine.ts";
import { BlockDriverError, BlockIoError, type VirtioBlockDriver } from "../devices/blk/driver.ts";
import type { FileBlockBackend } from "../devices/blk/backends.ts";
import { hexDump } from "../memory/guest_memory.ts";
import { formatSize } from "../guest/shell.ts";
import { EXIT_FAILURE, UserError } from "./errors.ts";
import { openImage, parseCountArg, parseSectorArg } from "./disk_image.ts";
import { stderrProgress } from "./progress.ts";
import { describeLearnerParts, learnerParts } from "./learner_parts.ts";
import type { MachineParts } from "../parts.ts";
import { LEGACY_HELP } from "./boot.ts";
import { hasFeature, VIRTIO_F_RING_PACKED } from "../virtio/features.ts";

const MINE_HELP = "run the stack on your code: the parts of every lesson you passed";
const PACKED_HELP = "run the queues as packed virtqueues (VIRTIO_F_RING_PACKED, §2.8)";

/** Bytes per request while hashing a whole disk or writing `--from` a file. */
const HASH_CHUNK = 1024 * 1024;
/** Requests kept in flight while hashing or writing. */
const HASH_DEPTH = 4;

/** Registers `disk` and its subcommands. */
export function register(program: Command): void {
  const disk = program
    .command("disk")
    .description("inspect and change a raw disk image through the virtio-blk stack");

  disk
    .command("info")
    .description("capacity, block size, limits and id of a disk image")
    .argument("<file>", "raw disk image")
    .option("--mine", MINE_HELP)
    .option("--legacy", LEGACY_HELP)
    .option("--packed", PACKED_HELP)
    .action(async (file, opts) => {
      await withDisk(file, {
        readOnly: true,
        mine: opts.mine ?? false,
        legacy: opts.legacy ?? false,
        packed: opts.packed ?? false,
      }, async (blk) => {
        const id = await blk.getId();
        console.log(
          [
            `image:      ${file}`,
            `capacity:   ${blk.capacity} sectors of 512 bytes (${blk.capacity * 512n} bytes, ${
              formatSize(blk.capacity * 512n)
            })`,
            `block size: ${blk.blockSize} bytes`,
            `seg_max:    ${blk.segMax} segments per request`,
            `size_max:   ${blk.sizeMax} bytes per segment`,
            `flush:      ${blk.canFlush ? "yes" : "no"}`,
            `discard:    ${describeDiscard(blk)}`,
            `zeroes:     ${describeWriteZeroes(blk)}`,
            `id:         ${id}`,
          ].join("\n"),
        );
      });
    });

  disk
    .command("read")
    .description(
      "hex dump sectors, or hash them with --sha256 (the whole disk when no range is given)",
    )
    .argument("<file>", "raw disk image")
    .option("--sector <n>", "first sector (512-byte units)")
    .option("--count <c>", "number of sectors (default 1, or the whole disk with --sha256)")
    .option("--sha256", "print the SHA-256 of the range and the throughput instead of a dump")
    .option("--mine", MINE_HELP)
    .option("--legacy", LEGACY_HELP)
    .option("--packed", PACKED_HELP)
    .action(async (file, opts) => {
      await withDisk(file, {
        readOnly: true,
        mine: opts.mine ?? false,
        legacy: opts.legacy ?? false,
        packed: opts.packed ?? false,
      }, async (blk) => {
        const sector = opts.sector === undefined ? 0n : parseSectorArg(opts.sector, "--sector");
        const whole = opts.sha256 && opts.sector === undefined && opts.count === undefined;
        const count = opts.count === undefined
          ? (opts.sha256 ? blk.capacity - sector : 1n)
          : BigInt(parseCountArg(opts.count, "--count"));
        checkRange(file, blk, sector, count);
        if (opts.sha256) {
          const started = performance.now();
          const progress = stderrProgress((done, total, elapsed) =>
            `hashing ${formatSize(done)} / ${formatSize(total)}` +
            (elapsed > 0 ? ` (${(done / 1024 / 1024 / elapsed).toFixed(1)} MiB/s)` : "")
          );
          let digest: string;
          try {
            digest = await hashRange(blk, sector, count, (bytes) => {
              progress.update(bytes, Number(count) * 512);
            });
          } finally {
            progress.finish();
          }
          const seconds = (performance.now() - started) / 1000;
          const bytes = Number(count) * 512;
          console.log(
            `${digest}  ${file}${whole ? "" : ` (sectors ${sector}..${sector + count - 1n})`}`,
          );
          console.error(
            `read ${formatSize(bytes)} through virtio-blk in ${seconds.toFixed(2)} s ` +
              `(${(bytes / 1024 / 1024 / seconds).toFixed(1)} MiB/s)`,
          );
        } else {
          const data = await blk.read(sector, Number(count));
          console.log(hexDump(data, Number(sector) * 512));
        }
      });
    });

  disk
    .command("write")
    .description("write bytes at a sector (the rest of the sector is kept), then flush")
    .argument("<file>", "raw disk image")
    .requiredOption("--sector <n>", "sector to write at (512-byte units)")
    .option("--hex <hex>", "the bytes, as hex digits (spaces and colons allowed)")
    .option("--from <path>", "the bytes, from a file ('-': standard input)")
    .option("--mine", MINE_HELP)
    .option("--legacy", LEGACY_HELP)
    .option("--packed", PACKED_HELP)
    .action(async (file, opts) => {
      if ((opts.hex === undefined) === (opts.from === undefined)) {
        throw new UserError("give exactly one of --hex HEX or --from PATH");
      }
      const sector = parseSectorArg(opts.sector, "--sector");
      const hex = opts.hex !== undefined ? parseHex(opts.hex) : null;
      await withDisk(file, {
        readOnly: false,
        mine: opts.mine ?? false,
        legacy: opts.legacy ?? false,
        packed: opts.packed ?? false,
      }, async (blk) => {
        checkRange(file, blk, sector, 1n);
        // Never more than fits between the sector and the end of the disk.
        const room = (blk.capacity - sector) * 512n;
        const data = hex ?? await readSource(opts.from!, room > 1n << 40n ? 1 << 40 : Number(room));
        const sectors = BigInt(Math.ceil(data.length / 512));
        checkRange(file, blk, sector, sectors);
        const progress = stderrProgress((done, total, elapsed) =>
          `writing ${formatSize(done)} / ${formatSize(total)}` +
          (elapsed > 0 ? ` (${(done / 1024 / 1024 / elapsed).toFixed(1)} MiB/s)` : "")
        );
        try {
          await writeRange(blk, sector, data, (bytes) => progress.update(bytes, data.length));
          await blk.flush();
        } finally {
          progress.finish();
        }
        console.log(
          `wrote ${data.length} byte(s) at sector ${sector} of ${file} ` +
            `(${sectors} sector(s)${
              data.length % 512 ? "; the last one read-modify-write" : ""
            }) and flushed`,
        );
      });
    });

  disk
    .command("discard")
    .description(
      "discard sectors (VIRTIO_BLK_T_DISCARD): the image gets holes where its file system can " +
        "punch them, and the sectors read back as zeroes",
    )
    .argument("<file>", "raw disk image")
    .requiredOption("--sector <n>", "first sector (512-byte units)")
    .requiredOption("--count <c>", "number of sectors")
    .option("--mine", MINE_HELP)
    .action(async (file, opts) => {
      await rangeCommand(file, opts, "discard", false);
    });

  disk
    .command("zero")
    .description(
      "zero sectors (VIRTIO_BLK_T_WRITE_ZEROES); with --unmap the device may punch holes instead " +
        "of writing",
    )
    .argument("<file>", "raw disk image")
    .requiredOption("--sector <n>", "first sector (512-byte units)")
    .requiredOption("--count <c>", "number of sectors")
    .option("--unmap", "let the device deallocate the sectors (VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)")
    .option("--mine", MINE_HELP)
    .action(async (file, opts) => {
      await rangeCommand(file, opts, "zero", opts.unmap ?? false);
    });
}

function describeDiscard(blk: VirtioBlockDriver): string {
  const d = blk.discardConfig.discard;
  if (!d) return notNegotiated(blk, "VIRTIO_BLK_F_DISCARD");
  return `up to ${d.maxSegments} segment(s) of ${d.maxSectors} sectors, alignment ` +
    `${d.alignment} sector(s)`;
}

function notNegotiated(blk: VirtioBlockDriver, feature: string): string {
  return blk.readOnly
    ? `not offered on a read-only disk (info opens the image read-only; discard and zero ` +
      "open it read-write)"
    : `no (${feature} not negotiated)`;
}

function describeWriteZeroes(blk: VirtioBlockDriver): string {
  const z = blk.discardConfig.writeZeroes;
  if (!z) return notNegotiated(blk, "VIRTIO_BLK_F_WRITE_ZEROES");
  return `up to ${z.maxSegments} segment(s) of ${z.maxSectors} sectors, ` +
    (z.mayUnmap ? "may unmap (holes)" : "writes zeroes (no unmap)");
}

/** `disk discard` and `disk zero`: one range, then a flush; the image's allocation before and after. */
async function rangeCommand(
  file: string,
  opts: { sector: string; count: string; mine?: boolean },
  what: "discard" | "zero",
  unmap: boolean,
): Promise<void> {
  const sector = parseSectorArg(opts.sector, "--sector");
  const count = parseCountArg(opts.count, "--count");
  await withDisk(
    file,
    { readOnly: false, mine: opts.mine ?? false },
    async (blk, _machine, backend) => {
      checkRange(file, blk, sector, BigInt(count));
      const usable = what === "discard" ? blk.canDiscard : blk.canWriteZeroes;
      if (!usable) {
        const feature = what === "discard" ? "VIRTIO_BLK_F_DISCARD" : "VIRTIO_BLK_F_WRITE_ZEROES";
        throw new UserError(
          `the disk cannot ${
            what === "discard" ? "discard" : "write zeroes"
          }: ${feature} was not ` +
            "negotiated" + (opts.mine ? " (it is withheld until lesson 24 passes)" : "") +
            "; nothing was changed",
          EXIT_FAILURE,
        );
      }
      const before = await backend.allocatedBytes();
      const requests = blk.stats.requests;
      const range = { sector: Number(sector), count };
      if (what === "discard") await blk.discard(range);
      else await blk.writeZeroes(range, { unmap });
      const sent = blk.stats.requests - requests;
      await blk.flush();
      const after = await backend.allocatedBytes();
      const verb = what === "discard" ? "discarded" : `zeroed${unmap ? " (unmap allowed)" : ""}`;
      console.log(
        `${verb} ${count} sector(s) at sector ${sector} of ${file} in ${sent} request(s), and flushed`,
      );
      if (before !== null && after !== null) {
        const change = after < before
          ? `: ${formatSize(BigInt(before - after))} deallocated`
          : after === before
          ? ": nothing deallocated"
          : "";
        console.log(
          `allocated on disk: ${formatSize(BigInt(before))} before, ${formatSize(BigInt(after))} ` +
            `after${change}` +
            (backend.canDeallocate ? "" : " (this image's file system cannot punch holes)"),
        );
      }
    },
  );
}

async function withDisk(
  file: string,
  options: { readOnly: boolean; mine: boolean; legacy?: boolean; packed?: boolean },
  run: (blk: VirtioBlockDriver, machine: LabMachine, image: FileBlockBackend) => Promise<void>,
): Promise<void> {
  let parts: MachineParts | undefined;
  let featureMask: bigint | undefined;
  if (options.mine) {
    // Before the image is opened: nothing to close if the learner's code cannot run.
    const mine = await learnerParts();
    if (mine.used.length === 0) {
      throw new UserError(
        "no lesson passes yet, so there is none of your code to run: deno task lab check 1",
      );
    }
    parts = mine.parts;
    featureMask = mine.featureMask;
    console.error(describeLearnerParts(mine).join("\n"));
  }
  const backend = await openImage(file, { readOnly: options.readOnly });
  let machine: LabMachine;
  try {
    machine = await createMachine({
      disk: backend,
      parts,
      featureMask,
      legacy: options.legacy ?? false,
      packed: options.packed,
    });
  } catch (error) {
    await backend.close();
    throw error;
  }
  try {
    const blk = machine.blk.driver;
    if (!blk) {
      const broken = machine.log.entries[0];
      throw new UserError(
        `virtio-blk did not come up: ${machine.blk.error || "no driver bound"}` +
          (broken ? `; first rule broken: §${broken.id} ${broken.message}` : ""),
        EXIT_FAILURE,
      );
    }
    if (options.packed) console.error(ringNote(machine));
    try {
      await run(blk, machine, backend);
    } catch (error) {
      throw diskError(file, error);
    }
  } finally {
    await machine.close();
  }
}

/**
 * What a request that failed in the stack says to the user, in one line: the
 * device's error status (`BlockIoError`), or why the driver gave up
 * (`BlockDriverError`: DEVICE_NEEDS_RESET, a broken queue, a device that
 * stopped answering within the request timeout). Other errors pass through.
 *
 * @param file The image, for the message.
 * @param error What the request threw.
 * @returns A {@linkcode UserError} with exit status 1, or `error` itself.
 */
export function diskError(file: string, error: unknown): unknown {
  if (error instanceof BlockIoError || error instanceof BlockDriverError) {
    return new UserError(`${file}: ${error.message.split("\n")[0]}`, EXIT_FAILURE);
  }
  return error;
}

function checkRange(file: string, blk: VirtioBlockDriver, sector: bigint, count: bigint): void {
  if (count < 1n || sector + count > blk.capacity) {
    const last = sector + (count > 0n ? count : 1n) - 1n;
    throw new UserError(
      `sectors ${sector}..${last} are past the end of ${file} (capacity ${blk.capacity} sectors, ` +
        `0..${blk.capacity - 1n}); nothing was read or written`,
    );
  }
}

/**
 * Reads `count` sectors from `sector` in 1 MiB chunks, several in flight, hashing in order;
 * `onHashed` gets the bytes hashed so far after each chunk.
 */
async function hashRange(
  blk: VirtioBlockDriver,
  sector: bigint,
  count: bigint,
  onHashed: (bytes: number) => void,
): Promise<string> {
  const hash = createHash("sha256");
  const perChunk = BigInt(HASH_CHUNK / 512);
  const end = sector + count;
  const inFlight: Promise<Uint8Array>[] = [];
  let next = sector;
  const issue = () => {
    const n = end - next < perChunk ? end - next : perChunk;
    inFlight.push(blk.read(next, Number(n)));
    next += n;
  };
  while (next < end && inFlight.length < HASH_DEPTH) issue();
  let hashed = 0;
  while (inFlight.length > 0) {
    const chunk = await inFlight.shift()!;
    hash.update(chunk);
    hashed += chunk.length;
    onHashed(hashed);
    if (next < end) issue();
  }
  return hash.digest("hex");
}

/**
 * Writes `data` from `sector` on, in 1 MiB requests with several in flight;
 * `onWritten` gets the bytes written so far after each. virtio-blk writes
 * whole sectors, so a last partial sector is read first and only its start
 * replaced (read-modify-write): the bytes after the data stay as they were.
 */
async function writeRange(
  blk: VirtioBlockDriver,
  sector: bigint,
  data: Uint8Array,
  onWritten: (bytes: number) => void,
): Promise<void> {
  const inFlight: Promise<number>[] = [];
  let offset = 0;
  const issue = () => {
    const length = Math.min(HASH_CHUNK, data.length - offset);
    const at = sector + BigInt(offset / 512);
    const chunk = data.subarray(offset, offset + length);
    offset += length;
    inFlight.push((async () => {
      let whole = chunk;
      if (length % 512 !== 0) {
        whole = await blk.read(at, Math.ceil(length / 512));
        whole.set(chunk, 0);
      }
      await blk.write(at, whole);
      return length;
    })());
  };
  while (offset < data.length && inFlight.length < HASH_DEPTH) issue();
  let written = 0;
  try {
    while (inFlight.length > 0) {
      written += await inFlight.shift()!;
      onWritten(written);
      if (offset < data.length) issue();
    }
  } catch (error) {
    // Let the requests still in flight settle before reporting the first failure.
    await Promise.allSettled(inFlight);
    throw error;
  }
}

function parseHex(text: string): Uint8Array {
  const digits = text.replace(/[\s:]/g, "").replace(/^0x/i, "");
  if (digits.length === 0 || digits.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(digits)) {
    throw new UserError(`--hex needs an even number of hex digits, not '${text}'`);
  }
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/**
 * Reads the bytes of `--from`: a regular file or `-` (standard input), at
 * most `limit` bytes (what fits on the disk): one byte more is refused
 * before anything is written, so `/dev/zero` or an endless pipe cannot fill
 * memory, and a FIFO with no writer cannot block the command.
 */
async function readSource(path: string, limit: number): Promise<Uint8Array> {
  let file: Deno.FsFile | null = null;
  let data: Uint8Array;
  try {
    if (path !== "-") {
      const info = await Deno.stat(path);
      if (info.isDirectory) throw new UserError(`--from ${path} is a directory`);
      if (!info.isFile) {
        throw new UserError(
          `--from ${path} is not a regular file (a device, FIFO or socket): give a file, or - ` +
            "and pipe the bytes in",
        );
      }
      file = await Deno.open(path, { read: true });
    }
    data = await readAtMost(file?.readable ?? Deno.stdin.readable, limit + 1);
  } catch (error) {
    if (error instanceof UserError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(`--from file ${path} does not exist`);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`--from ${path} is not readable`);
    }
    throw new UserError(
      `cannot read --from ${path}: ${error instanceof Error ? error.message : error}`,
    );
  } finally {
    try {
      file?.close();
    } catch { /* already closed by its stream */ }
  }
  const what = path === "-" ? "standard input" : `file ${path}`;
  if (data.length === 0) throw new UserError(`--from ${what} is empty: nothing to write`);
  if (data.length > limit) {
    throw new UserError(
      `--from ${what} holds more than the ${limit} byte(s) from the sector to the end of the ` +
        "disk; nothing was written",
    );
  }
  return data;
}

/** Reads a stream up to `max` bytes, then stops reading (the rest stays unread). */
async function readAtMost(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    while (total < max) {
      const { value, done } = await reader.read();
      if (done) break;
      const take = Math.min(value.length, max - total);
      chunks.push(take === value.length ? value : value.subarray(0, take));
      total += take;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Which ring layout the block device's queue runs on, for `--packed` (one line). */
function ringNote(machine: LabMachine): string {
  const negotiated = hasFeature(machine.blk.driverTransport.features, VIRTIO_F_RING_PACKED);
  return negotiated
    ? "virtio-blk: packed virtqueue (VIRTIO_F_RING_PACKED negotiated)"
    : "virtio-blk: split virtqueue (VIRTIO_F_RING_PACKED not negotiated: the feature mask withholds it until its lesson passes)";
}
