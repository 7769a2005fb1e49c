/**
 * Long text on a terminal goes through a pager, as `git` and `man` do: the
 * learner's `$PAGER`, else `less` (with `LESS=FRX` unless `LESS` is set:
 * colours kept, the text stays on screen after quitting, and no pager at all
 * when it fits one screen). Piped output, text that fits the terminal, and a
 * machine without a pager print as they are.
 *
 * @module
 */

/** How {@linkcode page} looks at the terminal and starts the pager (fakes in tests). */
export interface PagerHost {
  /** Whether stdout is a terminal. */
  isTerminal(): boolean;
  /** The terminal's height in rows. */
  rows(): number;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** Whether a program is on PATH. */
  has(program: string): boolean;
  /**
   * Runs `command` through `sh -c` with `text` on its stdin and `env` added;
   * resolves to its exit status, or `null` when it could not start.
   */
  run(command: string, text: string, env: Record<string, string>): Promise<number | null>;
  /** Prints the text (when no pager is used). */
  print(text: string): void;
}

/** The pager command to use, or `null` for none: `$PAGER` (unless empty or `cat`), else `less`. */
export function pagerCommand(host: Pick<PagerHost, "env" | "has">): string | null {
  const fromEnv = host.env("PAGER");
  if (fromEnv !== undefined) {
    const trimmed = fromEnv.trim();
    return trimmed === "" || trimmed === "cat" ? null : trimmed;
  }
  return host.has("less") ? "less" : null;
}

/**
 * Shows text: through the pager when stdout is a terminal and the text is
 * taller than it, else printed.
 *
 * @param text The text (ANSI colours allowed), without a trailing newline.
 * @param host The terminal and process access (default: this process's).
 * @returns Whether a pager showed it.
 */
export async function page(text: string, host: PagerHost = denoHost()): Promise<boolean> {
  const lines = text.split("\n").length;
  const pager = host.isTerminal() && lines >= host.rows() ? pagerCommand(host) : null;
  if (pager) {
    const env: Record<string, string> = host.env("LESS") === undefined ? { LESS: "FRX" } : {};
    const status = await host.run(pager, `${text}\n`, env);
    if (status !== null) return true;
  }
  host.print(text);
  return false;
}

function denoHost(): PagerHost {
  return {
    isTerminal: () => {
      try {
        return Deno.stdout.isTerminal();
      } catch {
        return false;
      }
    },
    rows: () => {
      try {
        return Deno.consoleSize().rows;
      } catch {
        return 24;
      }
    },
    env: (name) => {
      try {
        return Deno.env.get(name);
      } catch {
        return undefined;
      }
    },
    has: (program) =>
      (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
        try {
          return Deno.statSync(`${dir}/${program}`).isFile;
        } catch {
          return false;
        }
      }),
    run: async (command, text, env) => {
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command("sh", {
          args: ["-c", command],
          stdin: "piped",
          stdout: "inherit",
          stderr: "inherit",
          env,
        }).spawn();
      } catch {
        return null;
      }
      const writer = child.stdin.getWriter();
      // The learner may quit the pager before reading it all: a broken pipe is not an error.
      await writer.write(new TextEncoder().encode(text)).catch(() => {});
      await writer.close().catch(() => {});
      const status = await child.status;
      // sh answers 127 when the pager command does not exist: print instead.
      return status.code === 127 ? null : status.code;
    },
    print: (text) => console.log(text),
  };
}
