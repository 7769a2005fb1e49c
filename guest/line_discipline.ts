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
const LF = 0x0a;
const CR = 0x0d;
const CTRL_U = 0x15;
const CTRL_W = 0x17;
const ESC = 0x1b;
const DEL = 0x7f;

/**
 * Canonical-mode input processing with echo (like `stty icanon echo icrnl
 * onlcr`): printable input is echoed, Enter (CR, LF or CR LF) ends a line,
 * Backspace/DEL erases a character, Ctrl-U the line, Ctrl-W a word, Ctrl-C
 * interrupts, Ctrl-D on an empty line is end of input. Escape sequences
 * (arrow keys and the like) are swallowed.
 *
 * @example
 * ```ts
 * import { LineDiscipline } from "./line_discipline.ts";
 * const tty = new LineDiscipline();
 * const { events, echo } = tty.feed(new TextEncoder().encode("helo\x7flp\r"));
 * events; // [{ kind: "line", text: "help" }]
 * echo;   // "helo\b \blp\r\n"
 * ```
 */
export class LineDiscipline {
  #line: string[] = [];
  #decoder = new TextDecoder("utf-8", { fatal: false });
  #escape: "none" | "esc" | "csi" = "none";
  #lastWasCr = false;
  /** Whether input is echoed (default true). */
  echo: boolean;

  /** @param options `echo: false` to stop echoing (e.g. for passwords). */
  constructor(options: { readonly echo?: boolean } = {}) {
    this.echo = options.echo ?? true;
  }

  /** The partial line typed so far. */
  get pending(): string {
    return this.#line.join("");
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
    for (const b of bytes) {
      if (this.#escape !== "none") {
        if (this.#escape === "esc") this.#escape = b === 0x5b || b === 0x4f ? "csi" : "none";
        else if (b >= 0x40 && b <= 0x7e) this.#escape = "none";
        continue;
      }
      const afterCr = this.#lastWasCr;
      this.#lastWasCr = false;
      if (b === ESC) {
        flushRun();
        this.#escape = "esc";
      } else if (b === CR || b === LF) {
        flushRun();
        if (b === LF && afterCr) continue; // CR LF is one Enter
        this.#lastWasCr = b === CR;
        events.push({ kind: "line", text: this.#line.join("") });
        this.#line = [];
        if (this.echo) echo += "\r\n";
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
