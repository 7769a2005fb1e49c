/**
 * How the grading harness (the sandboxed child) tells the trusted parent
 * (`course/runner.ts`) what happened, and why the learner's code cannot
 * forge it.
 *
 * The parent draws a random nonce, writes a {@linkcode HarnessJob} carrying it
 * on the child's stdin and closes stdin. The harness reads the job *before*
 * the learner's module is imported and keeps the nonce in a closure; every
 * result it reports is one stdout line `<nonce> <json>\n`. The learner's code
 * shares stdout but never sees the nonce (it is not in the arguments, the
 * environment or any object the learner can reach, and stdin is at its end
 * by then), so nothing it prints counts. The parent reads only lines
 * carrying the nonce, and only for checks it expects.
 *
 * ```text
 * parent ──stdin──▶ {"protocol":2,"nonce":"9f…","grader":"file:///…/grader.ts",…}  EOF
 * child  ──stdout─▶ 9f… {"t":"ready","checks":15}
 *                   9f… {"t":"loaded","ok":true,"durationMs":31.2}
 *                   9f… {"t":"start","i":0,"name":"MagicValue reads \"virt\""}
 *                   (anything the learner prints, ignored)
 *                   9f… {"t":"end","i":0,"name":"MagicValue reads \"virt\"","status":"passed",…}
 *                   …
 *                   9f… {"t":"done"}
 * ```
 *
 * @example
 * ```ts
 * import { encodeRecord, newNonce, RecordReader } from "./protocol.ts";
 * const nonce = newNonce();
 * const reader = new RecordReader(nonce);
 * reader.push(`${nonce}0 {"t":"done"}\n`); // wrong nonce: ignored
 * reader.push('fake {"t":"done"}\n' + "ok\n");
 * reader.push(`noise${encodeRecord(nonce, { t: "ready", checks: 2 })}`);
 * reader.end();
 * if (reader.records.length !== 1 || reader.records[0].t !== "ready") throw new Error();
 * if (!reader.otherOutput.includes("ok")) throw new Error();
 * ```
 *
 * @module
 */

/** The version of this protocol; the job carries it and the harness refuses others. */
export const PROTOCOL_VERSION = 2;

/** Longest failure message a record carries, in characters (longer ones are cut). */
export const MAX_MESSAGE_CHARS = 8_000;

/** Longest line the parent buffers while looking for records, in characters. */
export const MAX_LINE_CHARS = 64 * 1024;

/** How much of the child's other output the parent keeps (its tail), in characters. */
export const MAX_OTHER_OUTPUT_CHARS = 16 * 1024;

/** A module of the grader's graph the harness loads and hardens before the learner's code. */
export interface JobModule {
  /** The specifier to import, e.g. `file:///…/transport/mmio_registers.ts`, `npm:fast-check@4.10.2`, `node:path`. */
  readonly specifier: string;
  /** `esm` (JavaScript or TypeScript), `json` (a JSON module), `npm` (a package) or `node` (a built-in). */
  readonly kind: "esm" | "json" | "npm" | "node";
}

/** What the parent writes on the harness's stdin: one JSON document, then end of input. */
export interface HarnessJob {
  /** Always {@linkcode PROTOCOL_VERSION}. */
  readonly protocol: number;
  /** The secret every record line starts with: 64 hex digits. */
  readonly nonce: string;
  /** `file:` URL of the lesson's grader module (it exports `grader`). */
  readonly grader: string;
  /** `file:` URL of the learner's exercise module. */
  readonly exercise: string;
  /** The grader's module graph: loaded and hardened before the exercise is imported. */
  readonly modules: readonly JobModule[];
}

/** The harness is set up (realm locked down, grader loaded) and about to import the exercise. */
export interface ReadyRecord {
  readonly t: "ready";
  /** How many checks the harness's copy of the grader has. */
  readonly checks: number;
}

/** The exercise module was imported (`ok`) or threw while loading. */
export interface LoadedRecord {
  readonly t: "loaded";
  readonly ok: boolean;
  /** Time the import took, in milliseconds. */
  readonly durationMs: number;
}

/** A check is about to run. */
export interface StartRecord {
  readonly t: "start";
  /** The check's position in the grader (0-based). */
  readonly i: number;
  /** The check's name. */
  readonly name: string;
}

/** A check ran to its end. */
export interface EndRecord {
  readonly t: "end";
  /** The check's position in the grader (0-based). */
  readonly i: number;
  /** The check's name. */
  readonly name: string;
  /** The outcome. */
  readonly status: "passed" | "failed";
  /** The teaching message ("" when passed), at most {@linkcode MAX_MESSAGE_CHARS}. */
  readonly message: string;
  /** The requirement id the result cites. */
  readonly requirement: string;
  /** The hint to read. */
  readonly hint: number;
  /** Time taken, in milliseconds. */
  readonly durationMs: number;
}

/** Every check was reported; the harness ends the process next. */
export interface DoneRecord {
  readonly t: "done";
}

/** One result line of the harness. */
export type HarnessRecord = ReadyRecord | LoadedRecord | StartRecord | EndRecord | DoneRecord;

/**
 * A fresh nonce: 32 random bytes from the system's CSPRNG, as 64 hex digits.
 */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * One record as a line of output: `<nonce> <json>\n`.
 *
 * @param nonce The job's nonce.
 * @param record The record.
 */
export function encodeRecord(nonce: string, record: HarnessRecord): string {
  return `${nonce} ${JSON.stringify(record)}\n`;
}

/**
 * Reads a job from the text the harness received on stdin.
 *
 * @param text The whole of stdin.
 * @returns The job.
 * @throws {TypeError} When it is not a job of this protocol version.
 */
export function parseJob(text: string): HarnessJob {
  const job = JSON.parse(text) as Partial<HarnessJob> | null;
  if (
    !job || typeof job !== "object" || job.protocol !== PROTOCOL_VERSION ||
    typeof job.nonce !== "string" || !/^[0-9a-f]{64}$/.test(job.nonce) ||
    typeof job.grader !== "string" || typeof job.exercise !== "string" ||
    !Array.isArray(job.modules) ||
    !job.modules.every((m) =>
      typeof m?.specifier === "string" && ["esm", "json", "npm", "node"].includes(m?.kind)
    )
  ) {
    throw new TypeError(`Not a grading job of protocol version ${PROTOCOL_VERSION}`);
  }
  return job as HarnessJob;
}

/**
 * The parent's side: reads the child's stdout as it streams, keeps the
 * records that carry the nonce and are well formed, and the tail of
 * everything else (for explaining a crash). Memory stays bounded whatever
 * the child prints: a line longer than {@linkcode MAX_LINE_CHARS} keeps only
 * its end (where a record may start), other output only its last
 * {@linkcode MAX_OTHER_OUTPUT_CHARS}.
 */
export class RecordReader {
  /** The records read, in order. */
  readonly records: HarnessRecord[] = [];
  readonly #marker: string;
  #line = "";
  #other = "";

  /**
   * @param nonce The job's nonce.
   */
  constructor(nonce: string) {
    this.#marker = `${nonce} `;
  }

  /** The tail of the output that was not a record. */
  get otherOutput(): string {
    return this.#other;
  }

  /**
   * Takes the next chunk of output.
   *
   * @param chunk Text as it arrived.
   */
  push(chunk: string): void {
    const text = this.#line + chunk;
    let start = 0;
    let newline: number;
    while ((newline = text.indexOf("\n", start)) >= 0) {
      this.#takeLine(text.slice(start, newline));
      start = newline + 1;
    }
    let rest = text.slice(start);
    if (rest.length > MAX_LINE_CHARS) {
      this.#keepOther(rest.slice(0, rest.length - MAX_LINE_CHARS));
      rest = rest.slice(-MAX_LINE_CHARS);
    }
    this.#line = rest;
  }

  /** The output ended: a last line without a newline is never a record (records end with one). */
  end(): void {
    this.#keepOther(this.#line);
    this.#line = "";
  }

  #takeLine(line: string): void {
    const at = line.indexOf(this.#marker);
    if (at < 0) {
      this.#keepOther(`${line}\n`);
      return;
    }
    this.#keepOther(line.slice(0, at));
    const record = parseRecord(line.slice(at + this.#marker.length));
    if (record) this.records.push(record);
  }

  #keepOther(text: string): void {
    if (!text) return;
    this.#other = (this.#other + text).slice(-MAX_OTHER_OUTPUT_CHARS);
  }
}

/** A record from its JSON text, or `null` when it is malformed. */
function parseRecord(text: string): HarnessRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!value || typeof value !== "object") return null;
  const r = value as Record<string, unknown>;
  const isIndex = (x: unknown) => typeof x === "number" && Number.isInteger(x) && x >= 0;
  const isMs = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x >= 0;
  switch (r.t) {
    case "ready":
      return isIndex(r.checks) ? { t: "ready", checks: r.checks as number } : null;
    case "loaded":
      return typeof r.ok === "boolean" && isMs(r.durationMs)
        ? { t: "loaded", ok: r.ok, durationMs: r.durationMs as number }
        : null;
    case "start":
      return isIndex(r.i) && typeof r.name === "string"
        ? { t: "start", i: r.i as number, name: r.name }
        : null;
    case "end":
      return isIndex(r.i) && typeof r.name === "string" &&
          (r.status === "passed" || r.status === "failed") && typeof r.message === "string" &&
          typeof r.requirement === "string" && isIndex(r.hint) && isMs(r.durationMs)
        ? {
          t: "end",
          i: r.i as number,
          name: r.name,
          status: r.status,
          message: r.message,
          requirement: r.requirement,
          hint: r.hint as number,
          durationMs: r.durationMs as number,
        }
        : null;
    case "done":
      return { t: "done" };
  }
  return null;
}
