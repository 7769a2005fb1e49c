/**
 * A one-line progress indicator on stderr for long commands (`lab disk read
 * --sha256`, `lab fuzz`), shown only when stderr is a terminal: piped or
 * redirected output stays exactly what it was without it.
 *
 * The line is redrawn in place (`\r` and erase-to-end-of-line) at most every
 * {@linkcode ProgressOptions.intervalMs} and erased when the work ends, so
 * what the command prints afterwards starts on a clean line. It writes
 * synchronously from the caller's own progress callback: the fuzz engine and
 * the block driver make progress on microtasks, where a timer-driven
 * spinner (such as `@clack/prompts`' `progress`) would never get a turn to
 * redraw until the work was over.
 *
 * @module
 */

/** Where the line goes: `Deno.stderr` has this shape. */
export interface ProgressStream {
  /** Whether the stream is a terminal; nothing is written when it is not. */
  isTerminal(): boolean;
  /** Writes bytes; returns how many were written. */
  writeSync(bytes: Uint8Array): number;
}

/** Options of {@linkcode stderrProgress}. */
export interface ProgressOptions {
  /** Where to draw (default `Deno.stderr`). */
  readonly stream?: ProgressStream;
  /** Least time between two redraws, in milliseconds (default 100). */
  readonly intervalMs?: number;
  /** The clock, in milliseconds (default `performance.now`). */
  readonly now?: () => number;
  /**
   * The terminal's width in columns (default: the console's, else 80): a
   * longer line is cut to fit, since a line that wraps cannot be redrawn in
   * place.
   */
  readonly columns?: () => number;
}

/** A progress line: report with {@linkcode update}, end with {@linkcode finish}. */
export interface Progress {
  /** Whether anything will be drawn (the stream is a terminal). */
  readonly shown: boolean;
  /** Reports `done` units of `total`; redraws when the interval has passed or the work is done. */
  update(done: number, total: number): void;
  /** Erases the line, if one was drawn. Safe to call more than once. */
  finish(): void;
}

/**
 * Starts a progress line.
 *
 * @param render Text of the line for `done` of `total` units after `elapsedSeconds`
 *   (keep it short: it must fit one terminal row).
 * @param options Where to draw, and how often.
 * @returns The line; every method is a no-op when the stream is not a terminal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stderrProgress } from "./progress.ts";
 *
 * const written: string[] = [];
 * const stream = {
 *   isTerminal: () => true,
 *   writeSync: (b: Uint8Array) => (written.push(new TextDecoder().decode(b)), b.length),
 * };
 * const progress = stderrProgress((done, total) => `${done}/${total}`, { stream });
 * progress.update(5, 10);
 * progress.finish();
 * assert.equal(written.join(""), "\r\x1b[K5/10\r\x1b[K");
 * ```
 */
export function stderrProgress(
  render: (done: number, total: number, elapsedSeconds: number) => string,
  options: ProgressOptions = {},
): Progress {
  const stream = options.stream ?? Deno.stderr;
  const now = options.now ?? (() => performance.now());
  const intervalMs = options.intervalMs ?? 100;
  const columns = options.columns ?? consoleColumns;
  const shown = stream.isTerminal();
  const encoder = new TextEncoder();
  const started = now();
  let lastDraw = -Infinity;
  let drawn = false;
  return {
    shown,
    update(done, total) {
      if (!shown) return;
      const t = now();
      if (t - lastDraw < intervalMs && done < total) return;
      lastDraw = t;
      const text = fit(render(done, total, (t - started) / 1000), columns() - 1);
      stream.writeSync(encoder.encode(`\r\x1b[K${text}`));
      drawn = true;
    },
    finish() {
      if (!drawn) return;
      stream.writeSync(encoder.encode("\r\x1b[K"));
      drawn = false;
    },
  };
}

/** The text cut to `width` characters, ending in `…` when cut. */
function fit(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join("")}…`;
}

function consoleColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}
