/**
 * The grader of "virtio-console".
 *
 * Device side: `fillReceiveChain` and `takeTransmitChain` on chains cut
 * every way the kit's stream fixture cuts them (one buffer, 1 + 15, sixteen
 * single bytes, 300 + 1 + 299...), with input shorter, equal and longer than
 * the chain and transmit chunks from 1 byte to more than the chain, through
 * a stream part that counts what it copies; chains of the wrong direction;
 * `emergencyWriteByte` over the whole configuration space and values above
 * a byte; `consoleConfigSpace` at the edges of 16 bits.
 *
 * Driver side: `postReceiveBuffers` and `postTransmitBuffer` on real queues
 * (near the 16-bit wrap, with notifications suppressed, with event idx,
 * full), read back through a device half; `receivedBytes` against used
 * lengths up to 0xffffffff on a memory that sees every load; `transmitChunks`
 * over lengths and chunk sizes; `readConsoleSize` on a device that resizes in
 * the middle of the first read. Last, the lab machine on all of it, with
 * input that needs a hundred refills and an emergency write.
 *
 * @module
 */

import { defineGrader, expectEqual, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import * as ref from "./reference.ts";
import type { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import type { VirtioConsoleDevice } from "../../devices/console/device.ts";
import * as show from "../kit/format.ts";
import { attempt, every, type Outcome, ruleFor } from "../kit/rules.ts";
import { machineCheck, PhaseTimeout, within } from "../kit/machine.ts";
import {
  byteList,
  FILL_CASES,
  fillSubject,
  POST_CASES,
  type PostPart,
  postSubject,
  RECEIVE_CASES,
  receiveSubject,
  REFUSED_FILL_CASES,
  REFUSED_TAKE_CASES,
  RESIZE_CASES,
  shownOutcome,
  sizeReadSubject,
  TAKE_CASES,
  takeSubject,
} from "../kit/buffers.ts";

type Impl = typeof Exercise;
const MULTI = "Cloud Hypervisor PR #7802: its console device handled only the first descriptor " +
  "of a chain, the case file of this lesson.";

// Device side: chains filled and taken, through a stream part that counts.
const fills = ruleFor(
  fillSubject<Impl>((i) => i.fillReceiveChain, ref.fillReceiveChain, "fillReceiveChain"),
  {
    cases: every(FILL_CASES),
    hint: 2,
  },
);
const takes = ruleFor(
  takeSubject<Impl>((i) => i.takeTransmitChain, ref.takeTransmitChain, "takeTransmitChain"),
  {
    cases: every(TAKE_CASES),
    hint: 2,
  },
);

// Device side: configuration writes over the whole space, and the layout at the 16-bit edges.
const EMERG: [number, number][] = [];
for (let offset = 0; offset < 16; offset++) {
  for (const v of [0, 0x4b, 0xff, 0x100, 0x1234_4b, 0xffff_ffff]) EMERG.push([offset, v]);
}
const emerg = ruleFor<Impl, [number, number], Outcome<unknown>>({
  run: (impl, o, v) => attempt(() => impl.emergencyWriteByte(o, v)),
  reference: (o, v) => attempt(() => ref.emergencyWriteByte(o, v)),
  key: (o, v) => `${o}:${v}`,
  show: (o, v) => `emergencyWriteByte(${o}, ${show.word(v)})`,
  result: shownOutcome,
}, { cases: every(EMERG), hint: 2 });
const SIZES: [number, number][] = [[80, 25], [0, 0], [1, 65535], [65535, 1], [0x1234, 0xabcd]];
const config = ruleFor<Impl, [number, number], Outcome<unknown>>({
  run: (impl, cols, rows) => attempt(() => impl.consoleConfigSpace({ cols, rows })),
  reference: (cols, rows) => attempt(() => ref.consoleConfigSpace({ cols, rows })),
  key: (c, r) => `${c}x${r}`,
  show: (cols, rows) => `consoleConfigSpace({ cols: ${cols}, rows: ${rows} })`,
  result: (o) =>
    "returned" in o && o.returned instanceof Uint8Array
      ? `returned ${o.returned.length} bytes ${byteList(o.returned)}`
      : shownOutcome(o),
}, { hint: 2, cases: every(SIZES) });

// Driver side: posting on real queues, read back by a reference device half.
const receivePost = (part: Impl["postReceiveBuffers"]): PostPart => (q, b, ok) =>
  part(q, b, 128, ok);
const transmitPost = (part: Impl["postTransmitBuffer"]): PostPart => (q, b) => {
  for (const [k, addr] of b.entries()) part(q, addr, 64 + k, addr);
};
const posts = ruleFor(
  postSubject<Impl>(
    (i) => receivePost(i.postReceiveBuffers),
    receivePost(ref.postReceiveBuffers),
    "postReceiveBuffers with",
    false,
  ),
  { cases: every(POST_CASES), hint: 2 },
);
const sends = ruleFor(
  postSubject<Impl>(
    (i) => transmitPost(i.postTransmitBuffer),
    transmitPost(ref.postTransmitBuffer),
    "postTransmitBuffer for",
    true,
  ),
  { cases: every(POST_CASES.filter((c) => c[3] && !c[5])), hint: 2 },
);
const fits = (...c: readonly unknown[]) => (c[0] as number) >= (c[2] as number);

// Driver side: used lengths, output pieces, the size under a resize.
const recvs = ruleFor(
  receiveSubject<Impl>((i) => i.receivedBytes, ref.receivedBytes, "receivedBytes"),
  { cases: every(RECEIVE_CASES), hint: 2 },
);
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, k) => (k * 31 + 7) & 0xff);
const pieces = (p: readonly Uint8Array[]) => ({
  lengths: p.map((x) => x.length).join(","),
  joined: p.flatMap((x) => [...x]),
});
const CHUNKS: [number, number][] = [0, 1, 5, 4096, 4097, 10_000].flatMap((n) =>
  [1, 3, 4096].filter((c) => n / c < 6000).map((c) => [n, c] as [number, number])
);
const chunks = ruleFor<Impl, [number, number], Outcome<unknown>>({
  run: (impl, n, c) => attempt(() => pieces(impl.transmitChunks(pattern(n), c))),
  reference: (n, c) => attempt(() => pieces(ref.transmitChunks(pattern(n), c))),
  key: (n, c) => `${n}/${c}`,
  show: (n, c) => `transmitChunks(${n} bytes, ${c})`,
  result: (o) =>
    "returned" in o
      ? `returned pieces of [${(o.returned as { lengths: string }).lengths}]`
      : shownOutcome(o),
}, { cases: every(CHUNKS), hint: 2 });
const sizes = ruleFor(sizeReadSubject<Impl>((i) => i.readConsoleSize, ref.readConsoleSize), {
  cases: every(RESIZE_CASES),
  hint: 3,
});

export const grader = defineGrader<Impl>({
  lesson: "console",
  checks: [
    fills({
      name: "input fills the receive chain across every descriptor, in order",
      requirement: "2.7.4.1/1",
      hint: 3,
      verdict: (r) => ({ stream: r.stream, outside: r.outside }),
      why: "the first bytes of input written into the writable buffers as one stream, from " +
        "the first buffer on, and nothing outside them",
      note: (got, want) => got.stream.join() !== want.stream.join() ? MULTI : undefined,
    }),
    fills({
      name: "fillReceiveChain returns the bytes it wrote: the used len",
      requirement: "2.7.8.2/2",
      verdict: (r) => r.outcome,
      why: "the smaller of the input's length and the chain's writable bytes, never more",
    }),
    fills({
      name: "fillReceiveChain copies through the queue's stream part",
      requirement: "2.7.4.1/1",
      verdict: (r) => r.copied,
      why: "every byte written by the write it is given (the queue's writeChain part)",
    }),
    fills({
      name: "a receive chain with a device-readable buffer is refused",
      requirement: "5.3.6.1/1",
      cases: every(REFUSED_FILL_CASES),
      verdict: (r) => ({ outcome: r.outcome, stream: r.stream, reported: r.reported }),
      why: "-1, 5.3.6.1/1 reported, and not a byte of the chain written",
    }),
    takes({
      name: "successive takes carry the whole transmit chain, every descriptor, in order",
      requirement: "2.7.4.1/1",
      hint: 3,
      verdict: (r) => ({ bytes: r.bytes, changed: r.changed }),
      why: "every byte of the readable buffers, in stream order, and nothing stored",
      note: (got, want) => got.bytes.length < want.bytes.length ? MULTI : undefined,
    }),
    takes({
      name: "each take is at most dest's length, 0 once the chain is done",
      requirement: "2.7.4.1/1",
      verdict: (r) => ({ first: r.first, returns: r.returns }),
      why: "0 for an empty dest, then min(dest.length, bytes left) each call, then 0",
    }),
    takes({
      name: "the cursor moves past exactly the bytes taken",
      requirement: "2.7.4.1/1",
      verdict: (r) => r.at,
      why: "the cursor naming stream offset (bytes taken so far) after each call",
    }),
    takes({
      name: "takeTransmitChain copies through the queue's stream part",
      requirement: "2.7.4.1/1",
      verdict: (r) => r.copied,
      why: "every byte taken copied by the read it is given (the queue's readChain part)",
    }),
    takes({
      name: "a transmit chain with a device-writable buffer is refused",
      requirement: "5.3.6.1/2",
      cases: every(REFUSED_TAKE_CASES),
      verdict: (r) => ({ first: r.first, copied: r.copied, reported: r.reported }),
      why: "-1 at the first look, 5.3.6.1/2 reported, nothing read",
    }),
    emerg({
      name: "a write to emerg_wr is taken, whatever its value",
      requirement: "5.3.5.1/1",
      when: (o) => o === 8,
      verdict: (r) => "returned" in r && typeof r.returned === "number" && r.returned >= 0,
      why: "a byte (0 to 255) to send out for every write to emerg_wr",
    }),
    emerg({
      name: "emerg_wr sends its low byte, and nothing else is an emergency write",
      requirement: "5.3.5.1/2",
      why: "the value's low byte for offset 8, -1 for every other offset",
    }),
    config({
      name: "cols and rows are little-endian 16-bit fields at offsets 0 and 2",
      requirement: "2.5.2/1",
      verdict: (r) =>
        "returned" in r && r.returned instanceof Uint8Array
          ? [r.returned.length, ...r.returned.subarray(0, 4)]
          : r,
      why: "12 bytes, cols at 0 and rows at 2, low byte first",
    }),
    posts({
      name: "each receive buffer is one device-writable chain, its address the token",
      requirement: "5.3.6.1/1",
      verdict: (r) => ("threw" in r.outcome ? shownOutcome(r.outcome) : r.chains),
      why: "one chain per buffer, a single device-writable buffer of the size given, no " +
        "device-readable one, its address as token; VirtqueueFullError when the queue is full",
    }),
    posts({
      name: "no notification before DRIVER_OK",
      requirement: "3.1.1/6",
      when: (...c) => !c[3] && fits(...c),
      verdict: (r) => r.outcome,
      why: "false while DRIVER_OK is not set, whatever the queue says",
      note: (got) =>
        "returned" in got.outcome && got.outcome.returned === true
          ? "NetBSD's viocon filled and kicked its receive queue before attaching had " +
            "finished (PR kern/58555, viocon.c rev 1.10), the case file of this lesson."
          : undefined,
    }),
    posts({
      name: "after DRIVER_OK, every refill notifies when the queue asks",
      requirement: "2.7.10.1/2",
      when: (...c) => c[3] && fits(...c),
      verdict: (r) => r.outcome,
      agrees: (got, want) =>
        "returned" in want && want.returned === false && "returned" in got
          ? typeof got.returned === "boolean"
          : JSON.stringify(got) === JSON.stringify(want),
      why: "true whenever kickPrepare asks for a notification (a refill the device is not " +
        "told about leaves input waiting)",
      note: () =>
        "A device holding input with no buffer waits for this notification: " +
        "Firecracker PR #293's deferred-receive stall.",
    }),
    sends({
      name: "each transmit piece is one device-readable chain, placed for the caller to publish",
      requirement: "5.3.6.1/2",
      verdict: (r) => ({ visible: r.visible, chains: r.chains }),
      why: "one chain per piece, a single device-readable buffer and nothing device-writable, " +
        "its token given back, and nothing published until the caller's kickPrepare",
      note: (got) =>
        got.chains.some((c) => c.includes("readable [] "))
          ? "NetBSD's viocon had its transmit buffers' DMA direction backwards (viocon.c rev 1.4)."
          : undefined,
    }),
    recvs({
      name: "a used len past the receive buffer is reported and cut to it",
      requirement: "2.7.8.2/2",
      verdict: (r) => ({
        threw: r.threw && shownOutcome(r.threw),
        length: r.bytes.length,
        reported: r.reported,
      }),
      why: "min(len, size) bytes, and 2.7.8.2/2 reported exactly when len > size",
      note: (got, _w, size, len) =>
        len > size && got.bytes.length > size
          ? "Linux's virtio_console copied len bytes out of a smaller buffer: CVE-2021-38160 " +
            "(d00d8da5869a)."
          : undefined,
    }),
    recvs({
      name: "the received bytes are a copy of the first len, read no further",
      requirement: "2.7.8.3/1",
      verdict: (r) => ({ bytes: r.bytes, past: r.past }),
      why: "a copy of the buffer's first min(len, size) bytes, unchanged when the device " +
        "reuses the buffer, and no load or view past them",
    }),
    chunks({
      name: "output is cut into pieces of at most chunkSize, none empty, in order",
      requirement: "2.7.5/D3",
      why: "pieces that join up to the data, each 1 to chunkSize bytes",
    }),
    sizes({
      name: "cols and rows are read at 16 bits, each at its own offset",
      requirement: "4.2.2.2/3",
      verdict: (r) => r.reads.map((s) => s.replace(" outside the loop", "")),
      why: "one 16-bit read at offset 0 and one at offset 2 (as often as the loop runs)",
    }),
    sizes({
      name: "cols and rows come from one configuration snapshot",
      requirement: "2.5.1/1",
      verdict: (r) => r.outcome,
      why: "both fields read inside readConfigConsistent, so a resize between them is read again",
    }),
    machineCheck<Impl>({
      id: "console",
      name: "your console runs the lab machine",
      requirement: "3.1.1/6",
      hint: 4,
      expects: "the lab machine, on your console parts and a strict log, to carry input and " +
        "output both ways, 96 KiB of input through refilled buffers, and an emergency write",
      lesson,
      async also(machine) {
        const console = machine.console;
        const backend = (console.device as VirtioConsoleDevice).backend as MemoryConsoleBackend;
        const input = pattern(96 * 1024);
        backend.input(input);
        const reader = console.driver!.readable.getReader();
        let got = 0;
        try {
          await within(
            (async () => {
              while (got < input.length) got += (await reader.read()).value?.length ?? 0;
            })(),
            2000,
            "96 KiB of input",
            "every byte typed to reach the guest",
            machine,
          );
        } catch (error) {
          if (!(error instanceof PhaseTimeout)) throw error;
          fail({
            observed: `the guest received ${got} of ${input.length} bytes typed, then nothing`,
            expected: "the driver to repost each receive buffer and notify the device, so " +
              "input keeps flowing past the first 64 KiB of buffers",
            requirement: "2.7.10.1/2",
            note: "A device with input pending and no buffers resumes only when told of a " +
              "refill: Firecracker PR #293's deferred-receive stall.",
          });
        } finally {
          reader.releaseLock();
        }
        const before = backend.output.length;
        console.driver!.emergencyWrite(0x4b);
        await within(backend.waitForOutput(before + 1), 500, "the emergency write", "a byte out");
        expectEqual(backend.outputText.slice(-1), "K", "the console after emergencyWrite(0x4b)", {
          requires: "the byte written to emerg_wr to come out on the console (5.3.5.1/2)",
        });
      },
    }),
  ],
});
