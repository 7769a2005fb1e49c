/**
 * What the terminal on stdout can show: OSC 8 hyperlinks (requirement ids
 * and spec sections linked to the virtio 1.2 HTML specification, exercise
 * paths to their files).
 *
 * @module
 */

import { createSupportsHyperlinks } from "supports-hyperlinks";
import process from "node:process";

/** Environment variable that forces links on (`1`) or off (`0`), whatever the terminal. */
export const FORCE_HYPERLINK_ENV = "FORCE_HYPERLINK";

/**
 * Whether to print OSC 8 hyperlinks on stdout: when `FORCE_HYPERLINK` is set,
 * what it says (`0` off, anything else on); otherwise only on a terminal,
 * not with `NO_COLOR` set or `TERM=dumb`, and only in terminals known to show
 * them (`supports-hyperlinks`: iTerm2 3.1+, WezTerm, VS Code 1.72+, ghostty,
 * VTE 0.50+ terminals such as GNOME Terminal, Windows Terminal, kitty,
 * alacritty). Terminals that do not know OSC 8 may print it as garbage, so
 * the default for an unknown one is off.
 *
 * @param env Reads an environment variable (default `Deno.env.get`; no
 *   permission means no links).
 * @param isTerminal Whether stdout is a terminal (default `Deno.stdout.isTerminal`).
 */
export function hyperlinksEnabled(
  env: (name: string) => string | undefined = safeEnv,
  isTerminal: () => boolean = () => Deno.stdout.isTerminal(),
): boolean {
  const forced = env(FORCE_HYPERLINK_ENV);
  if (forced !== undefined && forced !== "") return forced !== "0";
  if (env("NO_COLOR") || env("TERM") === "dumb") return false;
  try {
    if (!isTerminal()) return false;
    return createSupportsHyperlinks(process.stdout);
  } catch {
    return false;
  }
}

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
