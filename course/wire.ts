/**
 * How values cross a process boundary as JSON (the notebook's
 * `loadExercise()` and its subprocess): plain JSON plus tagged objects for
 * what JSON lacks.
 *
 * | value                    | on the wire                                  |
 * | ------------------------ | -------------------------------------------- |
 * | `bigint`                 | `{ "$bigint": "4294967296" }`                |
 * | `undefined`              | `{ "$undefined": true }`                     |
 * | `NaN`, `±Infinity`, `-0` | `{ "$number": "NaN" }`                       |
 * | typed arrays             | `{ "$typed": "Uint8Array", "data": [...] }`  |
 * | `Map`, `Set`             | `{ "$map": [[k, v]...] }`, `{ "$set": [...] }` |
 * | `Error`                  | `{ "$error": { "name", "message" } }`         |
 * | functions, class objects | `{ "$function": "name" }`; instances: their own fields |
 *
 * Functions and class instances with behaviour cannot cross: call a function
 * by name, or send a function's *source* to run on the other side.
 *
 * @module
 */

const TYPED = {
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigUint64Array,
  BigInt64Array,
} as const;

/**
 * Encodes a value for JSON.
 *
 * @param value Any value.
 * @returns A JSON-safe value.
 */
export function encodeValue(value: unknown, seen: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case "bigint":
      return { $bigint: value.toString() };
    case "undefined":
      return { $undefined: true };
    case "number":
      if (Object.is(value, -0)) return { $number: "-0" };
      return Number.isFinite(value) ? value : { $number: String(value) };
    case "function":
      return { $function: value.name || "(anonymous)" };
    case "symbol":
      return value.toString();
    case "string":
    case "boolean":
      return value;
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.has(object)) return "[circular]";
  seen.add(object);
  try {
    if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
      const name = object.constructor.name;
      const items = Array.from(
        object as unknown as ArrayLike<number | bigint>,
        (x) => typeof x === "bigint" ? x.toString() : x,
      );
      return { $typed: name, data: items };
    }
    if (object instanceof Map) {
      return { $map: [...object].map(([k, v]) => [encodeValue(k, seen), encodeValue(v, seen)]) };
    }
    if (object instanceof Set) return { $set: [...object].map((v) => encodeValue(v, seen)) };
    if (object instanceof Error) return { $error: { name: object.name, message: object.message } };
    if (object instanceof Date) return object.toISOString();
    if (Array.isArray(object)) return object.map((v) => encodeValue(v, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(object)) out[k] = encodeValue(v, seen);
    return out;
  } finally {
    seen.delete(object);
  }
}

/**
 * Decodes a value produced by {@linkcode encodeValue}.
 *
 * @param value A JSON value.
 * @returns The value (functions come back as their name in a `{ $function }` object).
 */
export function decodeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value === null || typeof value !== "object") return value;
  const v = value as Record<string, unknown>;
  if (typeof v.$bigint === "string") return BigInt(v.$bigint);
  if (v.$undefined === true) return undefined;
  if (typeof v.$number === "string") return Number(v.$number);
  if (typeof v.$typed === "string" && Array.isArray(v.data)) {
    const ctor = TYPED[v.$typed as keyof typeof TYPED];
    if (ctor === BigUint64Array || ctor === BigInt64Array) {
      return new ctor((v.data as string[]).map((x) => BigInt(x)));
    }
    if (ctor) return new (ctor as Uint8ArrayConstructor)(v.data as number[]);
  }
  if (Array.isArray(v.$map)) {
    return new Map(
      (v.$map as [unknown, unknown][]).map(([k, x]) => [decodeValue(k), decodeValue(x)]),
    );
  }
  if (Array.isArray(v.$set)) return new Set((v.$set as unknown[]).map(decodeValue));
  if (v.$error && typeof v.$error === "object") {
    const e = v.$error as { name: string; message: string };
    const error = new Error(e.message);
    error.name = e.name;
    return error;
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = decodeValue(x);
  return out;
}
