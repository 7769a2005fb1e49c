/**
 * A guest-side terminal line discipline, as a serial console's tty layer
 * provides in a real guest: the host terminal is in raw mode, so the guest
 * echoes what it receives, handles erase and kill characters, and hands whole
 * lines to the program reading the console.
 *
 * Input bytes come from the console's receiveq; echo and output go back out
 * through its transmitq. This module is pure: it turns input bytes into
 * events and echo text, and does no I/O itself.
 *
 * @module
 */

/** What the line discipline made of some input. */
export type LineEvent =
  | { readonly kind: "line"; readonly text: string }
  | { readonly kind: "interrupt" }
  | { readonly kind: "eof" };

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = 0x08;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const CTRL_U = 0x15;
const CTRL_W = 0x17;
const ESC = 0x1b;
const DEL = 0x7f;

/** Options of {@linkcode LineDiscipline}. */
export interface LineDisciplineOptions {
  /** Echo input (default true; false e.g. for passwords). */
  readonly echo?: boolean;
  /**
   * Tab completion: the full lines that could complete `line` (the text typed
   * so far), e.g. `"di"` → `["disk info", "disk read"]`. Without it, Tab is
   * ignored.
   */
  readonly complete?: (line: string) => readonly string[];
  /** Printed again after a list of completions, before the pending line (default `""`). */
  readonly prompt?: string;
  /** Most lines kept for the arrow keys (default 100). */
  readonly historySize?: number;
}

/**
 * Canonical-mode input processing with echo (like `stty icanon echo icrnl
 * onlcr`), plus the line editing a shell's readline adds: printable input is
 * echoed, Enter (CR, LF or CR LF) ends a line, Backspace/DEL erases a
 * character, Ctrl-U the line, Ctrl-W a word, Ctrl-C interrupts, Ctrl-D on an
 * empty line is end of input. Up and Down (`ESC [ A`, `ESC [ B`, or the `ESC O`
 * forms) walk the history of lines entered; Tab completes the line from
 * {@linkcode LineDisciplineOptions.complete}: one candidate is filled in, several
 * are extended to their common prefix, and a second Tab lists them. Other
 * escape sequences (left, right, function keys) are swallowed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineDiscipline } from "./line_discipline.ts";
 * const tty = new LineDiscipline({ complete: (line) => ["help", "halt"].filter((c) => c.startsWith(line)) });
 * const enc = (s: string) => new TextEncoder().encode(s);
 * assert.deepEqual(tty.feed(enc("helo\x7fp\r")), {
 *   events: [{ kind: "line", text: "help" }],
 *   echo: "helo\b \bp\r\n",
 * });
 * // Up brings "help" back; Tab fills in "he" to "help ".
 * assert.equal(tty.feed(enc("\x1b[A")).echo, "help");
 * assert.deepEqual(tty.feed(enc("\r")).events, [{ kind: "line", text: "help" }]);
 * assert.equal(tty.feed(enc("he\t")).echo, "help ");
 * ```
 */
export class LineDiscipline {
  #line: string[] = [];
  #decoder = new TextDecoder("utf-8", { fatal: false });
  #escape: "none" | "esc" | "csi" = "none";
  #escapeParams = "";
  #lastWasCr = false;
  #lastWasTab = false;
  #history: string[] = [];
  /** Position in the history while walking it: `history.length` is the line being typed. */
  #historyAt = 0;
  /** The line being typed when the walk started, restored by Down past the newest entry. */
  #draft = "";
  readonly #complete?: (line: string) => readonly string[];
  readonly #prompt: string;
  readonly #historySize: number;
  /** Whether input is echoed (default true). */
  echo: boolean;

  /** @param options Echo, completion, the prompt to redraw, history size. */
  constructor(options: LineDisciplineOptions = {}) {
    this.echo = options.echo ?? true;
    this.#complete = options.complete;
    this.#prompt = options.prompt ?? "";
    this.#historySize = options.historySize ?? 100;
  }

  /** The partial line typed so far. */
  get pending(): string {
    return this.#line.join("");
  }

  /** The lines entered so far, oldest first (empty lines and repeats are not kept). */
  get history(): readonly string[] {
    return this.#history;
  }

  /**
   * Processes input bytes.
   *
   * @param bytes Bytes received from the console.
   * @returns The events completed by these bytes and the text to echo.
   */
  feed(bytes: Uint8Array): { events: LineEvent[]; echo: string } {
    const events: LineEvent[] = [];
    let echo = "";
    let run: number[] = [];
    const flushRun = () => {
      if (run.length === 0) return;
      const text = this.#decoder.decode(new Uint8Array(run), { stream: true });
      run = [];
      for (const ch of text) {
        this.#line.push(ch);
        if (this.echo) echo += ch;
      }
    };
    /** Replaces the pending line, erasing the old one on screen. */
    const replaceLine = (text: string) => {
      if (this.echo) echo += "\b \b".repeat(this.#line.length) + text;
      this.#line = [...text];
    };
    for (const b of bytes) {
      if (this.#escape !== "none") {
        if (this.#escape === "esc") {
          this.#escape = b === 0x5b || b === 0x4f ? "csi" : "none";
          this.#escapeParams = "";
        } else if (b >= 0x40 && b <= 0x7e) {
          this.#escape = "none";
          // Up and Down with no parameters walk the history.
          if (this.#escapeParams === "" && (b === 0x41 || b === 0x42)) {
            const line = this.#walkHistory(b === 0x41 ? -1 : 1);
            if (line !== null) replaceLine(line);
          }
        } else {
          this.#escapeParams += String.fromCharCode(b);
        }
        continue;
      }
      const afterCr = this.#lastWasCr;
      const afterTab = this.#lastWasTab;
      this.#lastWasCr = false;
      this.#lastWasTab = false;
      if (b === ESC) {
        flushRun();
        this.#escape = "esc";
      } else if (b === CR || b === LF) {
        flushRun();
        if (b === LF && afterCr) continue; // CR LF is one Enter
        this.#lastWasCr = b === CR;
        const text = this.#line.join("");
        events.push({ kind: "line", text });
        this.#remember(text);
        this.#line = [];
        if (this.echo) echo += "\r\n";
      } else if (b === TAB) {
        flushRun();
        this.#lastWasTab = true;
        echo += this.#tab(afterTab);
      } else if (b === DEL || b === BACKSPACE) {
        flushRun();
        if (this.#line.length > 0) {
          this.#line.pop();
          if (this.echo) echo += "\b \b";
        }
      } else if (b === CTRL_U) {
        flushRun();
        if (this.echo) echo += "\b \b".repeat(this.#line.length);
        this.#line = [];
      } else if (b === CTRL_W) {
        flushRun();
        let n = 0;
        while (this.#line.length > 0 && this.#line.at(-1) === " ") (this.#line.pop(), n++);
        while (this.#line.length > 0 && this.#line.at(-1) !== " ") (this.#line.pop(), n++);
        if (this.echo) echo += "\b \b".repeat(n);
      } else if (b === CTRL_C) {
        flushRun();
        this.#line = [];
        this.#historyAt = this.#history.length;
        events.push({ kind: "interrupt" });
        if (this.echo) echo += "^C\r\n";
      } else if (b === CTRL_D) {
        flushRun();
        if (this.#line.length === 0) events.push({ kind: "eof" });
      } else if (b < 0x20) {
        flushRun(); // other control characters are ignored
      } else {
        run.push(b);
      }
    }
    flushRun();
    return { events, echo };
  }

  /** Keeps an entered line for Up and Down; ends any walk through the history. */
  #remember(text: string): void {
    if (text.trim() !== "" && this.#history.at(-1) !== text) {
      this.#history.push(text);
      if (this.#history.length > this.#historySize) this.#history.shift();
    }
    this.#historyAt = this.#history.length;
    this.#draft = "";
  }

  /** One step through the history (-1 older, +1 newer): the line to show, or `null` at an end. */
  #walkHistory(step: -1 | 1): string | null {
    const to = this.#historyAt + step;
    if (to < 0 || to > this.#history.length) return null;
    if (this.#historyAt === this.#history.length) this.#draft = this.#line.join("");
    this.#historyAt = to;
    return to === this.#history.length ? this.#draft : this.#history[to];
  }

  /** Tab: completes the pending line, or on a second Tab lists the candidates. */
  #tab(again: boolean): string {
    if (!this.#complete) return "";
    const line = this.#line.join("");
    const candidates = [...new Set(this.#complete(line))].filter((c) => c.startsWith(line));
    if (candidates.length === 0) return this.echo ? "\x07" : "";
    if (candidates.length === 1) {
      const done = candidates[0].endsWith(" ") ? candidates[0] : `${candidates[0]} `;
      const before = this.#line.length;
      this.#line = [...done];
      return this.echo ? done.slice(before) : "";
    }
    const common = commonPrefix(candidates);
    if (common.length > line.length) {
      this.#line = [...common];
      return this.echo ? common.slice(line.length) : "";
    }
    if (!again) return this.echo ? "\x07" : "";
    // The second Tab lists what could follow, then redraws the prompt and the line.
    return this.echo ? `\r\n${candidates.join("  ")}\r\n${this.#prompt}${line}` : "";
  }
}

function commonPrefix(words: readonly string[]): string {
  let prefix = words[0];
  for (const w of words) {
    while (!w.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

/**
 * Output processing (`onlcr`): turns `\n` into `\r\n` for a raw terminal,
 * leaving existing `\r\n` pairs alone.
 *
 * @param text Program output.
 */
export function toTerminal(text: string): string {
  return text.replace(/\r?\n/g, "\r\n");
}
