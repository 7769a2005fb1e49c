import assert from "node:assert/strict";
import {
  encodeRecord,
  type HarnessRecord,
  MAX_LINE_CHARS,
  MAX_OTHER_OUTPUT_CHARS,
  newNonce,
  parseJob,
  PROTOCOL_VERSION,
  RecordReader,
} from "../../course/sandbox/protocol.ts";

// The reader checks a record's shape, not its contents (the parent checks those against the grader).
const END: HarnessRecord = {
  t: "end",
  i: 0,
  name: 'MagicValue reads "virt"',
  status: "passed",
  message: "",
  requirement: "any id",
  hint: 1,
  durationMs: 0.4,
};

Deno.test("nonces are 64 hex digits and never repeat", () => {
  const seen = new Set(Array.from({ length: 1000 }, newNonce));
  assert.equal(seen.size, 1000);
  for (const nonce of seen) assert.match(nonce, /^[0-9a-f]{64}$/);
});

Deno.test("only lines carrying the nonce count, wherever the line breaks fall", () => {
  const nonce = newNonce();
  const reader = new RecordReader(nonce);
  const text = [
    "featureWord(word, 0) is bits 0 to 31 ... ok (1ms)\n",
    `${"0".repeat(64)} ${JSON.stringify(END)}\n`,
    `${newNonce()} ${JSON.stringify(END)}\n`,
    `${nonce.slice(0, 63)} ${JSON.stringify(END)}\n`,
    encodeRecord(nonce, { t: "ready", checks: 1 }),
    `learner output without a newline, then${encodeRecord(nonce, END)}`,
    encodeRecord(nonce, { t: "done" }),
  ].join("");
  // One character at a time: records split across chunks still count.
  for (const c of text) reader.push(c);
  reader.end();
  assert.deepEqual(reader.records, [{ t: "ready", checks: 1 }, END, { t: "done" }]);
  assert.match(reader.otherOutput, /\.\.\. ok \(1ms\)\n/);
  assert.match(reader.otherOutput, /learner output without a newline, then$/m);
});

Deno.test("malformed or ill-typed records are dropped, not trusted", () => {
  const nonce = newNonce();
  const reader = new RecordReader(nonce);
  for (
    const body of [
      "{not json",
      '{"t":"end","i":0,"name":"x","status":"passed"}',
      JSON.stringify({ ...END, status: "ok" }),
      JSON.stringify({ ...END, i: -1 }),
      JSON.stringify({ ...END, hint: 1.5 }),
      JSON.stringify({ ...END, durationMs: "1" }),
      JSON.stringify({ t: "start", i: 0 }),
      JSON.stringify({ t: "loaded", ok: "yes", durationMs: 1 }),
      JSON.stringify({ t: "ready", checks: -3 }),
      JSON.stringify({ t: "something else" }),
      "null",
      "[]",
    ]
  ) {
    reader.push(`${nonce} ${body}\n`);
  }
  reader.push(`${nonce} ${JSON.stringify(END)}`); // no newline: the process died mid-write
  reader.end();
  assert.deepEqual(reader.records, []);
});

Deno.test("memory stays bounded whatever the child prints, and a record after a huge line survives", () => {
  const nonce = newNonce();
  const reader = new RecordReader(nonce);
  const megabyte = "y".repeat(1024 * 1024);
  for (let i = 0; i < 8; i++) reader.push(megabyte); // 8 MiB in one line
  reader.push(encodeRecord(nonce, { t: "done" }));
  for (let i = 0; i < 8; i++) reader.push(`${megabyte}\n`);
  reader.end();
  assert.deepEqual(reader.records, [{ t: "done" }]);
  assert.ok(reader.otherOutput.length <= MAX_OTHER_OUTPUT_CHARS);
  assert.ok(MAX_LINE_CHARS < megabyte.length);
});

Deno.test("a job is read only when it is complete and of this protocol", () => {
  const job = {
    protocol: PROTOCOL_VERSION,
    nonce: newNonce(),
    grader: "file:///course/lessons/01-x/grader.ts",
    exercise: "file:///ws/01-x/exercise.ts",
    modules: [{ specifier: "npm:fast-check@^4.10.2", kind: "npm" }],
  };
  assert.deepEqual(parseJob(JSON.stringify(job)), job);
  for (
    const bad of [
      { ...job, protocol: 1 },
      { ...job, nonce: "short" },
      { ...job, nonce: job.nonce.toUpperCase() },
      { ...job, grader: 3 },
      { ...job, modules: [{ specifier: "x", kind: "wasm" }] },
      null,
    ]
  ) {
    assert.throws(() => parseJob(JSON.stringify(bad)), TypeError);
  }
  assert.throws(() => parseJob(""), SyntaxError);
});
