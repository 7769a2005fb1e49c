/**
 * The conformance log: every check the reference code makes of the other side
 * of the virtio interface ends here as a structured {@linkcode Violation} that
 * cites a requirement id (see `requirements.ts`).
 *
 * Policy (docs/ARCHITECTURE.md §3): a side that sees the other break a rule logs it and
 * carries on where real implementations do; where the spec says it cannot go
 * on, the device sets DEVICE_NEEDS_RESET. In strict mode every violation is
 * also thrown as a {@linkcode ConformanceError}, which is what graders use.
 *
 * @module
 */

import {
  type Requirement,
  requirement,
  type RequirementId,
  type RequirementLevel,
  type Role,
} from "./requirements.ts";
import { htmlTable } from "../format/html.ts";

/** A value worth showing next to a violation: a register offset, an index, a length. */
export type ViolationValue = number | bigint | string | boolean | null;

/** What a reporter passes to {@linkcode ConformanceLog.report}. */
export interface ViolationReport {
  /** Requirement or derived-rule id, e.g. `"4.2.2.2/2"`. */
  readonly id: RequirementId;
  /** What was observed, in plain words and sentence case, e.g. "Read of write-only register QueueNotify (0x050)". */
  readonly message: string;
  /** The offending values, by name (offsets, indices, lengths, features). */
  readonly values?: Readonly<Record<string, ViolationValue>>;
  /** Where it was seen, e.g. `"virtio-blk@0x1e000 queue 0"`. */
  readonly source?: string;
  /** What the checking side did about it, e.g. "read returned 0", "set DEVICE_NEEDS_RESET". */
  readonly action?: string;
}

/** One broken rule, as recorded in the log. */
export interface Violation {
  /** Position in the log, starting at 1; keeps counting after entries are dropped or cleared. */
  readonly seq: number;
  /** Requirement or derived-rule id, e.g. `"4.2.2.2/2"`. */
  readonly id: RequirementId;
  /** Spec section, e.g. `"4.2.2.2"`. */
  readonly section: string;
  /** The side that broke the rule. */
  readonly role: Role;
  /** MUST, SHOULD, MAY or derived. */
  readonly level: RequirementLevel;
  /** What was observed, in plain words. */
  readonly message: string;
  /** The offending values, by name. */
  readonly values: Readonly<Record<string, ViolationValue>>;
  /** Where it was seen; empty when the reporter did not say. */
  readonly source: string;
  /** What the checking side did about it; empty when it only logged. */
  readonly action: string;
}

/** Thrown by a strict {@linkcode ConformanceLog} for every violation it records. */
export class ConformanceError extends Error {
  /** The violation that was recorded. */
  readonly violation: Violation;

  /**
   * Wraps a recorded violation; the message is its one-line form.
   *
   * @param violation The recorded violation.
   */
  constructor(violation: Violation) {
    super(formatViolation(violation));
    this.name = "ConformanceError";
    this.violation = violation;
  }
}

/** Options for {@linkcode ConformanceLog}. */
export interface ConformanceLogOptions {
  /** Throw a {@linkcode ConformanceError} for every violation (default `false`). */
  readonly strict?: boolean;
  /** Keep at most this many entries, dropping the oldest (default 10 000). */
  readonly capacity?: number;
}

/** A listener called for every recorded violation, before strict mode throws. */
export type ViolationListener = (violation: Violation) => void;

/**
 * An append-only log of violations shared by every layer of a lab machine.
 *
 * @example
 * ```ts
 * import { ConformanceLog } from "./log.ts";
 * const log = new ConformanceLog();
 * log.report({ id: "4.2.2.2/2", message: "16-bit read of Status (0x070)", values: { offset: 0x70, width: 2 } });
 * log.entries.length; // 1
 * ```
 */
export class ConformanceLog {
  /** Whether {@linkcode report} throws after recording. */
  strict: boolean;
  readonly #capacity: number;
  #entries: Violation[] = [];
  #seq = 0;
  #dropped = 0;
  readonly #listeners = new Set<ViolationListener>();

  /**
   * Creates an empty log.
   *
   * @param options Strictness and capacity.
   * @throws {RangeError} If the capacity is not a positive integer.
   */
  constructor(options: ConformanceLogOptions = {}) {
    this.strict = options.strict ?? false;
    this.#capacity = options.capacity ?? 10_000;
    if (!Number.isSafeInteger(this.#capacity) || this.#capacity < 1) {
      throw new RangeError(
        `Conformance log capacity ${options.capacity} is not a positive integer`,
      );
    }
  }

  /**
   * Records a violation.
   *
   * @param report The rule id, a message and the values involved.
   * @returns The recorded violation.
   * @throws {RangeError} If `report.id` is not a known requirement id (a bug in the checker).
   * @throws {ConformanceError} In strict mode, always, after recording.
   */
  report(report: ViolationReport): Violation {
    const rule: Requirement = requirement(report.id);
    const violation: Violation = Object.freeze({
      seq: ++this.#seq,
      id: rule.id,
      section: rule.section,
      role: rule.role,
      level: rule.level,
      message: report.message,
      values: Object.freeze({ ...report.values }),
      source: report.source ?? "",
      action: report.action ?? "",
    });
    this.#entries.push(violation);
    if (this.#entries.length > this.#capacity) {
      this.#entries.shift();
      this.#dropped++;
    }
    for (const listener of this.#listeners) {
      // A failing listener must not hide the violation from the others, nor
      // stop strict mode from throwing: report its error separately.
      try {
        listener(violation);
      } catch (error) {
        reportError(error);
      }
    }
    if (this.strict) throw new ConformanceError(violation);
    return violation;
  }

  /** The recorded violations, oldest first. */
  get entries(): readonly Violation[] {
    return this.#entries;
  }

  /** How many violations were dropped because the log was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Whether a violation of a rule was recorded.
   *
   * @param id A requirement id; omit to ask whether anything was recorded.
   */
  has(id?: string): boolean {
    return id === undefined ? this.#entries.length > 0 : this.#entries.some((v) => v.id === id);
  }

  /**
   * The violations of one rule, or of one side.
   *
   * @param filter A requirement id, or `{ role }`.
   */
  find(filter: string | { readonly role: Role }): Violation[] {
    return typeof filter === "string"
      ? this.#entries.filter((v) => v.id === filter)
      : this.#entries.filter((v) => v.role === filter.role);
  }

  /** Forgets every entry (sequence numbers keep counting). */
  clear(): void {
    this.#entries = [];
    this.#dropped = 0;
  }

  /**
   * Calls `listener` for every violation recorded from now on.
   *
   * @returns A function that unsubscribes.
   */
  subscribe(listener: ViolationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A reporter that stamps every report with a source, for one component.
   *
   * @param source Such as `"virtio-blk@0x1e000"`.
   */
  scoped(source: string): ConformanceReporter {
    return new ConformanceReporter(this, source);
  }

  /** The entries as plain JSON-safe objects (bigints become hex strings). */
  toJSON(): Record<string, unknown>[] {
    return this.#entries.map((v) => ({
      ...v,
      values: Object.fromEntries(
        Object.entries(v.values).map((
          [k, x],
        ) => [k, typeof x === "bigint" ? `0x${x.toString(16)}` : x]),
      ),
    }));
  }

  /** A readable text table, one violation per line. */
  format(): string {
    if (this.#entries.length === 0) return "Conformance log: no violations.";
    const lines = [`Conformance log: ${this.#entries.length} violation(s)`];
    for (const v of this.#entries) lines.push(`  ${formatViolation(v)}`);
    if (this.#dropped > 0) lines.push(`  (${this.#dropped} older entries dropped)`);
    return lines.join("\n");
  }

  /** Text form for the REPL and `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.format();
  }

  /** Rich form for Jupyter (Deno kernel). */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const html = this.#entries.length === 0
      ? '<p data-virtio-lab="conformance-log"><b>Conformance log</b>: no violations.</p>'
      : htmlTable({
        kind: "conformance-log",
        caption: `Conformance log: ${this.#entries.length} violation(s)`,
        head: ["#", "rule", "broken by", "level", "where", "what happened", "values", "action"],
        rows: this.#entries.map((v) => [
          String(v.seq),
          { code: v.id },
          v.role,
          v.level,
          v.source,
          v.message,
          { code: formatValues(v.values) },
          v.action,
        ]),
      });
    return { "text/plain": this.format(), "text/html": html };
  }
}

/** Reports violations into a {@linkcode ConformanceLog} with a fixed source. */
export class ConformanceReporter {
  /** The log reports go to. */
  readonly log: ConformanceLog;
  /** The source stamped on every report. */
  readonly source: string;

  /**
   * Binds a source name to a log.
   *
   * @param log The log reports go to.
   * @param source Such as `"virtio-blk@0x1e000"`.
   */
  constructor(log: ConformanceLog, source: string) {
    this.log = log;
    this.source = source;
  }

  /**
   * Records a violation with this reporter's source.
   *
   * @param id Requirement or derived-rule id.
   * @param message What was observed.
   * @param values The offending values.
   * @param action What the checking side did about it.
   * @returns The recorded violation.
   * @throws {ConformanceError} When the log is strict.
   */
  report(
    id: RequirementId,
    message: string,
    values: Readonly<Record<string, ViolationValue>> = {},
    action = "",
  ): Violation {
    return this.log.report({ id, message, values, source: this.source, action });
  }

  /**
   * A reporter for a sub-component, e.g. `"virtio-blk@0x1e000 queue 0"`.
   *
   * @param suffix Appended to this reporter's source after a space.
   */
  scoped(suffix: string): ConformanceReporter {
    return new ConformanceReporter(this.log, `${this.source} ${suffix}`.trim());
  }
}

/**
 * One line describing a violation: rule, side, where, what, values, action.
 *
 * @param v The violation.
 */
export function formatViolation(v: Violation): string {
  const where = v.source ? ` at ${v.source}` : "";
  const values = Object.keys(v.values).length > 0 ? ` [${formatValues(v.values)}]` : "";
  const action = v.action ? ` -> ${v.action}` : "";
  return `§${v.id} (${v.role} ${v.level})${where}: ${v.message}${values}${action}`;
}

function formatValues(values: Readonly<Record<string, ViolationValue>>): string {
  return Object.entries(values).map(([k, x]) => `${k}=${formatValue(x)}`).join(" ");
}

function formatValue(x: ViolationValue): string {
  if (typeof x === "bigint") return `0x${x.toString(16)}`;
  if (typeof x === "string") return JSON.stringify(x);
  return String(x);
}
