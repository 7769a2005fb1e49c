/**
 * The subprocess behind `loadExercise()` in notebooks: imports one exercise
 * module freshly (a new process has no module cache) and serves calls to its
 * exports over stdin/stdout, one JSON object per line.
 *
 * Started as `deno run --no-check --allow-read=<course>,<workspace> exercise_host.ts <file>`.
 *
 * - First line out: `{"ready":true,"exports":[{"name","kind"}...]}` or
 *   `{"ready":false,"error":{...}}`.
 * - In: `{"id":1,"op":"call","name":"featureWord","args":[...]}` or
 *   `{"id":2,"op":"run","source":"(mod, ...args) => ...","args":[...]}`.
 * - Out: `{"id":1,"ok":true,"value":...}` or `{"id":1,"ok":false,"error":{"name","message","stack"}}`.
 *
 * Values cross as JSON with tags for what JSON lacks (see {@linkcode encodeValue}).
 *
 * @module
 */

import { pathToFileURL } from "node:url";
import { decodeValue, encodeValue } from "./wire.ts";

interface Request {
  readonly id: number;
  readonly op: "call" | "run";
  readonly name?: string;
  readonly source?: string;
  readonly args?: unknown[];
}

const encoder = new TextEncoder();

function send(message: unknown): void {
  Deno.stdout.writeSync(encoder.encode(`${JSON.stringify(message)}\n`));
}

function errorShape(error: unknown): { name: string; message: string; stack: string } {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack ?? "" };
  }
  return { name: "thrown value", message: String(error), stack: "" };
}

async function main(file: string): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (error) {
    send({ ready: false, error: errorShape(error) });
    return;
  }
  send({
    ready: true,
    exports: Object.keys(mod).sort().map((name) => {
      const value = mod[name];
      const kind = typeof value === "function"
        ? (/^class[\s{]/.test(Function.prototype.toString.call(value)) ? "class" : "function")
        : "value";
      return { name, kind };
    }),
  });
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const chunk of Deno.stdin.readable) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.trim()) await handle(mod, JSON.parse(line) as Request);
    }
  }
}

async function handle(mod: Record<string, unknown>, request: Request): Promise<void> {
  try {
    const args = (request.args ?? []).map(decodeValue);
    let value: unknown;
    if (request.op === "call") {
      const fn = mod[request.name ?? ""];
      if (typeof fn !== "function") {
        throw new TypeError(`exercise.ts has no exported function "${request.name}"`);
      }
      value = await fn(...args);
    } else {
      // deno-lint-ignore no-eval
      const fn = (0, eval)(`(${request.source})`) as (...a: unknown[]) => unknown;
      value = await fn(mod, ...args);
    }
    send({ id: request.id, ok: true, value: encodeValue(value) });
  } catch (error) {
    send({ id: request.id, ok: false, error: errorShape(error) });
  }
}

if (import.meta.main) {
  await main(Deno.args[0]);
}
