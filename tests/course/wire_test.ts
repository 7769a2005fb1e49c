import assert from "node:assert/strict";
import { decodeValue, encodeValue } from "../../course/wire.ts";

Deno.test("values cross the process boundary as JSON, including what JSON lacks", () => {
  const value = {
    big: 0x1_0000_0000n,
    nothing: undefined,
    nan: NaN,
    bytes: new Uint8Array([1, 2, 255]),
    words: new BigUint64Array([1n, 2n]),
    map: new Map([["a", 1n]]),
    set: new Set([1, 2]),
    list: [1, "two", null, -0],
  };
  const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(value)))) as typeof value;
  assert.deepEqual(back, value);
  const err = decodeValue(encodeValue(new RangeError("bad"))) as Error;
  assert.equal(err.name, "RangeError");
  assert.equal(err.message, "bad");
  assert.deepEqual(encodeValue(function named() {}), { $function: "named" });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.deepEqual(encodeValue(cyclic), { self: "[circular]" });
});
