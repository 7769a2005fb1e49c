/**
 * How graders show values in failure messages: {@linkcode hex} for register
 * values, {@linkcode describe} for anything else, both short and colourless.
 *
 * @example
 * ```ts
 * import { describe, hex } from "./describe.ts";
 * if (hex(0x74726976) !== "0x74726976") throw new Error("hex");
 * if (hex(5, 2) !== "0x05") throw new Error("padding");
 * if (describe(4096) !== "4096 (0x1000)") throw new Error("describe");
 * ```
 *
 * @module
 */

/**
 * A number as hexadecimal, e.g. `hex(0x74726976)` is `"0x74726976"`,
 * `hex(5, 2)` is `"0x05"`. Non-numbers are described as usual.
 *
 * @param value The value.
 * @param digits Minimum number of hex digits.
 */
export function hex(value: unknown, digits = 1): string {
  if (typeof value === "number" && Number.isInteger(value)) {
    return `${value < 0 ? "-" : ""}0x${Math.abs(value).toString(16).padStart(digits, "0")}`;
  }
  if (typeof value === "bigint") {
    return `${value < 0n ? "-" : ""}0x${
      (value < 0n ? -value : value).toString(16).padStart(digits, "0")
    }`;
  }
  return describe(value);
}

/**
 * A short, colourless description of any value for a failure message:
 * integers above 9 also in hex (`4096 (0x1000)`), strings quoted, arrays and
 * objects compact, at most 200 characters.
 *
 * @param value The value.
 */
export function describe(value: unknown): string {
  if (typeof value === "number" && Number.isInteger(value) && Math.abs(value) > 9) {
    return `${value} (${hex(value)})`;
  }
  if (typeof value === "bigint") return `${value}n (${hex(value)})`;
  if (value === undefined) return "undefined";
  if (typeof value === "function") return `a function ${value.name || "(anonymous)"}`;
  try {
    const text = Deno.inspect(value, {
      colors: false,
      compact: true,
      breakLength: Infinity,
      depth: 3,
    });
    return text.length > 200 ? `${text.slice(0, 197)}...` : text;
  } catch {
    try {
      return String(value);
    } catch {
      return "a value that cannot be shown";
    }
  }
}

/**
 * The first non-empty line of a text, at most 300 characters.
 *
 * @param text Any text (an error message, a stack).
 */
export function firstLine(text: string): string {
  const line = String(text).split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/**
 * Anything thrown, as an `Error` (a thrown string or other value becomes one
 * named `"thrown value"`).
 *
 * @param error What was thrown.
 */
export function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  const e = new Error(typeof error === "string" ? error : `a non-Error value: ${describe(error)}`);
  e.name = "thrown value";
  return e;
}
