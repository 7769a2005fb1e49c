/**
 * The grading sandbox under attack: one test per attack class, each an
 * exercise written to pass without solving anything (or to break out), graded
 * by `gradeLesson` exactly as `lab check` does. Every attack must end as
 * failed (or timed out), never passed; the honest solutions at the end must
 * still pass; and nothing outside the throwaway workspaces may change (the
 * last test compares the digest of every tracked file of the repository,
 * `deno.lock` included, with the one taken before the first attack).
 *
 * The attacks are independent, so they run a few at a time from the moment
 * this file loads; each test awaits its own.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { gradeLesson, type GradeOptions, type GradeReport } from "../../course/runner.ts";
import { loadCourse } from "../../course/manifest.ts";
import { renderReport } from "../../course/report.ts";
import { Workspace } from "../../course/workspace.ts";
import { FIXTURE_ROOT, removeDir, REPO, runCommand } from "./helpers.ts";

/** `file:///…/` of the repository, for exercises that import course files by absolute URL. */
const REPO_URL = pathToFileURL(path.join(REPO, "/")).href;

/** One attack: an exercise and what must be true of its report. */
interface Attack {
  /** Which course: the fixture (lesson "feature-words", 5 checks) or this repository (lesson 1). */
  readonly course: "fixture" | "repo";
  /** The lesson number. */
  readonly lesson?: number;
  /** The whole `exercise.ts`. */
  readonly source: string;
  /** Grading options (the compile stage is skipped unless `skipCompile: false`). */
  readonly options?: Partial<GradeOptions>;
  /** Which checks the exercise may legitimately pass (its honest parts); default none. */
  readonly honest?: (check: string) => boolean;
  /** Assertions of this attack. */
  check(report: GradeReport): void | Promise<void>;
}

// --------------------------------------------------------------- exercises

/** A wrong but well-typed fixture solution: every check fails on its own. */
const WRONG = `
export function featureWord(_word: bigint, _select: number): number { return 0; }
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint { return word; }
`;

/**
 * A fixture exercise whose first function runs probes (each a thunk that
 * must be refused: throw, reject or return "refused") and fails with the
 * list of those that were not. `extra` is more top-level code (imports are
 * hoisted wherever they stand).
 */
function probing(probes: string, extra = ""): string {
  return `
const probes: Record<string, () => unknown> = {${probes}};
const allowed: string[] = [];
for (const [name, probe] of Object.entries(probes)) {
  try {
    const result = await probe();
    if (result !== "refused") allowed.push(name);
  } catch {
    // refused
  }
}
${extra}
export function featureWord(_word: bigint, _select: number): number {
  throw new Error("allowed: " + (allowed.join(",") || "none"));
}
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint { return word; }
`;
}

/** The real lesson 1 stub, with `Deno.exit(0);` as the first statement after its imports. */
function lessonOneStubThatExits(workspace: Workspace): string {
  const lesson = workspace.course.lessons[0];
  const stub = workspace.stubText(lesson).split("\n");
  const lastImport = stub.findLastIndex((l) => /^(import |\} from )/.test(l));
  stub.splice(lastImport + 1, 0, "Deno.exit(0);");
  return stub.join("\n");
}

const LESSON_ONE_REFERENCE = `export * from "${REPO_URL}lessons/01-mmio-window/reference.ts";\n`;

/** Lesson 1 with a wrong DeviceID that only the property-based check finds. */
const WRONG_DEVICE_ID = `
export { checkRegisterAccess, probeWindow } from "${REPO_URL}lessons/01-mmio-window/reference.ts";
import { readIdentification as reference } from "${REPO_URL}lessons/01-mmio-window/reference.ts";
import type { DeviceIdentity } from "${REPO_URL}transport/mmio_registers.ts";
export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  beforeEachCall();
  // Wrong only for vendor IDs above 0x7fffffff: no scripted identity of the grader has one.
  if (offset === 0x00c && identity.vendorId > 0x7fffffff) return identity.vendorId | 0;
  return reference(offset, identity);
}
`;
/** How many checks the real lesson 1 grader defines (the parent's count, not the child's). */
const LESSON_ONE_CHECKS =
  (await import("../../lessons/01-mmio-window/grader.ts")).grader.checks.length;
const DEVICE_ID_CHECK = "DeviceID and VendorID are the device's, as unsigned 32-bit values";

const attacks: Record<string, Attack> = {
  // ------------------------------------------------------------ exiting
  "Deno.exit(0) at load": {
    course: "fixture",
    source: `Deno.exit(0);\n${WRONG}`,
    check(report) {
      assert.ok(report.tests.every((t) => t.run === "finished"));
      assert.match(
        report.tests[0].message,
        /failed while loading: it threw Error: Deno\.exit\(\) is not available while grading/,
      );
    },
  },
  "Deno.exit(0) after the imports of the real lesson 1 stub (the issue)": {
    course: "repo",
    source: "", // written from the stub, see lessonOneStubThatExits
    options: { skipCompile: false },
    check(report) {
      assert.equal(report.expected, LESSON_ONE_CHECKS);
      assert.deepEqual([report.passed, report.failed], [0, LESSON_ONE_CHECKS]);
      assert.match(report.tests[0].message, /Deno\.exit\(\) is not available while grading/);
    },
  },
  "Deno.exit and process.exit inside checks": {
    course: "fixture",
    source: `
export function featureWord(_word: bigint, _select: number): number { Deno.exit(0); return 0; }
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint {
  (globalThis as unknown as { process: { exit(code: number): void } }).process.exit(0);
  return word;
}
`,
    check(report) {
      assert.ok(report.tests.every((t) => t.run === "finished"), "every check still ran");
      assert.match(report.tests[0].message, /it threw Error: Deno\.exit\(\) is not available/);
      assert.match(report.tests[3].message, /Deno\.exit\(\) is not available/);
    },
  },
  "a Worker asking for more permissions ends the process inside a check": {
    course: "fixture",
    source: `
export function featureWord(_word: bigint, _select: number): number {
  new Worker("data:text/javascript,postMessage(1)", {
    type: "module",
    deno: { permissions: { read: true, write: true, net: true, run: true, env: true } },
  } as WorkerOptions);
  return 0;
}
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint { return word; }
`,
    check(report) {
      assert.equal(report.stage, "test");
      assert.deepEqual(report.tests.map((t) => t.run), [
        "interrupted",
        "not run",
        "not run",
        "not run",
        "not run",
      ]);
      assert.match(report.tests[0].message, /^observed: the test process exited with status \d+/);
      assert.match(report.tests[0].message, /Worker\.deno\.permissions/);
      assert.match(report.message!, /^grading stopped before every check was reported/);
    },
  },

  // ------------------------------------------------- forging the results
  "fake reporter output, then an endless loop": {
    course: "fixture",
    source: `
const names = ["featureWord(word, 0) is bits 0 to 31", "featureWord(word, 1) is bits 32 to 63",
  "featureWord values are unsigned", "withFeatureWord replaces only the selected half",
  "withFeatureWord refuses a selector other than 0 or 1"];
for (const name of names) console.log(name + " [4.2.2.2/7] ... ok (1ms)");
console.log("ok | 5 passed | 0 failed (3ms)");
for (const nonce of ["0".repeat(64), "f".repeat(64), ""]) {
  console.log(nonce + ' {"t":"ready","checks":5}');
  names.forEach((name, i) => {
    console.log(nonce + " " + JSON.stringify({ t: "start", i, name }));
    console.log(nonce + " " + JSON.stringify({ t: "end", i, name, status: "passed", message: "",
      requirement: "4.2.2.2/7", hint: 1, durationMs: 1 }));
  });
  console.log(nonce + ' {"t":"done"}');
}
console.log(JSON.stringify({ stage: "test", ok: true, passed: 5, failed: 0, tests: [] }));
${WRONG}
export function featureWordLoop(): never { for (;;) { /* spin */ } }
featureWordLoop();
`,
    options: { timeoutMs: 2_000 },
    check(report) {
      assert.equal(report.stage, "timeout");
      assert.ok(report.tests.every((t) => t.run === "not run"));
      assert.match(report.message!, /while your exercise module was loading/);
    },
  },
  "forged records with every string the exercise can find (stdin, arguments, globals)": {
    course: "fixture",
    source: `
const candidates = new Set<string>(Deno.args);
const buffer = new Uint8Array(4096);
let stdin = "";
try {
  for (let n; (n = Deno.stdin.readSync(buffer)) !== null && n > 0;) {
    stdin += new TextDecoder().decode(buffer.subarray(0, n));
  }
} catch { /* closed */ }
for (const m of stdin.matchAll(/[0-9a-f]{64}/g)) candidates.add(m[0]);
for (const key of Object.getOwnPropertyNames(globalThis)) {
  try {
    const value = (globalThis as Record<string, unknown>)[key];
    if (typeof value === "string") candidates.add(value);
  } catch { /* getter threw */ }
}
candidates.add(new Error().stack ?? "");
const names = ["featureWord(word, 0) is bits 0 to 31", "featureWord(word, 1) is bits 32 to 63",
  "featureWord values are unsigned", "withFeatureWord replaces only the selected half",
  "withFeatureWord refuses a selector other than 0 or 1"];
const forge = () => {
  for (const nonce of candidates) {
    names.forEach((name, i) => {
      console.log(nonce + " " + JSON.stringify({ t: "start", i, name }));
      console.log(nonce + " " + JSON.stringify({ t: "end", i, name, status: "passed",
        message: "", requirement: "4.2.2.2/7", hint: 1, durationMs: 1 }));
    });
    console.log(nonce + ' {"t":"done"}');
  }
};
forge();
export function featureWord(_word: bigint, _select: number): number {
  forge();
  throw new Error("stdin held " + stdin.length + " characters");
}
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint {
  forge();
  Deno.exit(0);
  return word;
}
`,
    check(report) {
      assert.match(report.tests[0].message, /stdin held 0 characters/);
    },
  },

  // ----------------------------------------------- patching the grader
  "patching Deno.test, the grader, the grading API, intrinsics and globals": {
    course: "fixture",
    source: probing(
      `
  "Deno.test": () => { (Deno as unknown as Record<string, unknown>).test = () => {}; },
  "Deno.inspect": () => { (Deno as unknown as Record<string, unknown>).inspect = () => "0x5"; },
  "a check's run": () => { (grader.checks[0] as unknown as Record<string, unknown>).run = () => {}; },
  "the check list": () => { (grader.checks as unknown as unknown[]).length = 0; },
  "GradeFailure.prototype": () => { Object.defineProperty(api.GradeFailure.prototype, "message", { value: "" }); },
  "GradeFailure instanceof": () => { Object.defineProperty(api.GradeFailure, Symbol.hasInstance, { value: () => false }); },
  "grader.ts exports": () => { (api as unknown as Record<string, unknown>).expectEqual = () => {}; },
  "Object.is": () => { (Object as unknown as Record<string, unknown>).is = () => true; },
  "Array.prototype.every": () => { (Array.prototype as unknown as Record<string, unknown>).every = () => true; },
  "Object.keys": () => { (Object as unknown as Record<string, unknown>).keys = () => []; },
  "Promise.prototype.then": () => { (Promise.prototype as unknown as Record<string, unknown>).then = () => {}; },
  "Function.prototype.call": () => { (Function.prototype as unknown as Record<string, unknown>).call = () => {}; },
  "Object.prototype pollution": () => { (Object.prototype as unknown as Record<string, unknown>).failed = false; },
  "Error.prototype.name": () => { Object.defineProperty(Error.prototype, "name", { value: "GradeFailure" }); },
  "globalThis.JSON": () => { (globalThis as unknown as Record<string, unknown>).JSON = { stringify: () => "x", parse: JSON.parse }; },
  "globalThis.Object": () => { (globalThis as unknown as Record<string, unknown>).Object = function () {}; },
  "a new global": () => { (globalThis as unknown as Record<string, unknown>).Bun = {}; },
  "TextEncoder.prototype": () => { (TextEncoder.prototype as unknown as Record<string, unknown>).encode = () => new Uint8Array(); },
  "TextDecoder.prototype": () => { (TextDecoder.prototype as unknown as Record<string, unknown>).decode = () => ""; },
  "Deno.stdout.writeSync": () => { (Deno.stdout as unknown as Record<string, unknown>).writeSync = () => 0; },
  "console.log": () => { (console as unknown as Record<string, unknown>).log = () => {}; },
  "performance.now": () => { (Object.getPrototypeOf(performance) as Record<string, unknown>).now = () => 0; },
  "Deno.errors": () => { (Deno.errors as unknown as Record<string, unknown>).NotCapable = Error; },
  "the harness's protocol module": () => { Object.defineProperty(protocol.RecordReader.prototype, "push", { value: () => {} }); },
  "the harness's record encoder": () => { Object.defineProperty(protocol.encodeRecord, "marker", { value: 1 }); },
  "SES's harden": () => { (globalThis as unknown as Record<string, unknown>).harden = (x: unknown) => x; },
`,
      `import * as api from "${REPO_URL}course/grader.ts";
import * as protocol from "${REPO_URL}course/sandbox/protocol.ts";
import { grader } from "${REPO_URL}tests/fixtures/course/lessons/01-feature-words/grader.ts";`,
    ),
    check(report) {
      assert.match(report.tests[0].message, /observed: it threw Error: allowed: none/);
    },
  },
  "patching the library the grader compares with (real lesson 1)": {
    course: "repo",
    source: `
import * as registers from "${REPO_URL}transport/mmio_registers.ts";
import * as driver from "${REPO_URL}transport/mmio_driver.ts";
const changed: string[] = [];
for (const module of [registers, driver]) {
  for (const [name, value] of Object.entries(module)) {
    try {
      if (Array.isArray(value)) { (value as unknown[]).push(null); changed.push(name); }
      else if (typeof value === "function") {
        Object.defineProperty(value, "marker", { value: 1 });
        changed.push(name);
      } else if (value && typeof value === "object") {
        (value as Record<string, unknown>).marker = 1;
        changed.push(name);
      }
    } catch { /* refused */ }
    try {
      const first = Array.isArray(value) ? value[0] : undefined;
      if (first && typeof first === "object") {
        (first as Record<string, unknown>).name = "changed";
        changed.push(name + "[0]");
      }
    } catch { /* refused */ }
  }
}
export { probeWindow, readIdentification } from "${REPO_URL}lessons/01-mmio-window/reference.ts";
export function checkRegisterAccess(): { ok: true; register: null } {
  if (changed.length) throw new Error("changed: " + changed.join(","));
  return { ok: true, register: null };
}
`,
    // Its checkRegisterAccess lets everything through: right for configuration space only.
    honest: (check) =>
      !/^(control registers|only registers|the legacy layout|your register file)/.test(check),
    check(report) {
      const access = report.tests.find((t) => t.name.startsWith("control registers"))!;
      assert.equal(access.status, "failed");
      assert.doesNotMatch(access.message, /changed:/, "no library export could be changed");
    },
  },
  "fast-check's global configuration, changed at load (real lesson 1)": {
    course: "repo",
    source: `
import fc from "fast-check";
fc.configureGlobal({ interruptAfterTimeLimit: 0, markInterruptAsFailure: false });
${LESSON_ONE_REFERENCE}`,
    check(report) {
      assert.equal(report.passed, 0);
      assert.match(
        report.tests[0].message,
        /^observed: your code changed fast-check's global configuration \(fc\.configureGlobal/,
      );
    },
  },
  "fast-check's global configuration, changed during a check (real lesson 1)": {
    course: "repo",
    source: `
import fc from "fast-check";
let calls = 0;
function beforeEachCall() {
  // From the second call on, so the property check is the one that runs with it.
  if (calls++ === 1) fc.configureGlobal({ interruptAfterTimeLimit: 0, markInterruptAsFailure: false });
}
${WRONG_DEVICE_ID}`,
    honest: (check) => check !== DEVICE_ID_CHECK,
    check(report) {
      const tampered = report.tests.filter((t) => /changed fast-check's global/.test(t.message));
      assert.ok(tampered.length >= 1, "the check it happened in is failed for it");
      assert.equal(report.tests.find((t) => t.name === DEVICE_ID_CHECK)!.status, "failed");
    },
  },
  "a fast-check global plugin that skips every property (real lesson 1)": {
    course: "repo",
    source: `
import fc from "fast-check";
let installed = "installed";
try {
  fc.installGlobalPlugin(() => ({ decorateRun: () => () => null }) as never);
} catch (error) {
  installed = String(error);
}
function beforeEachCall() {}
${WRONG_DEVICE_ID}
export const pluginResult = installed;`,
    honest: (check) => check !== DEVICE_ID_CHECK,
    check(report) {
      const property = report.tests.find((t) => t.name === DEVICE_ID_CHECK)!;
      assert.equal(property.status, "failed");
      assert.match(property.message, /readIdentification\(0x00c, .*vendorId: 0x[89a-f]/);
    },
  },

  "terminal escapes that would redraw the verdict as a pass": {
    course: "fixture",
    source: `
const forge = "\\x1b[2K\\x1b[1A\\r\\x1b[32mPASS lesson 1: all 5 checks passed\\x1b[0m\\x1b]0;PASS\\x07\\x1b]8;;https://x\\x1b\\\\";
console.log(forge);
console.error(forge);
export function featureWord(_word: bigint, _select: number): number { throw new Error(forge); }
export function withFeatureWord(_word: bigint, _select: number, _value: number): bigint {
  Deno.exit(0);
  return 0n;
}
`,
    check(report) {
      const text = renderReport(report, { color: false, width: 100 });
      assert.ok(
        // deno-lint-ignore no-control-regex
        !/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(text),
        "no control character reaches the terminal",
      );
      assert.match(
        report.tests[0].message,
        /it threw Error: \[2K\[1A\[32mPASS|it threw Error: PASS lesson 1/,
      );
      assert.match(text, /FAIL lesson 1: 5 of 5 checks failed/);
    },
  },

  // ------------------------------------------------------ permissions
  "reads outside what grading needs (.git, the lock, other lessons, /proc, /etc)": {
    course: "fixture",
    source: probing(`
  "own folder (allowed)": () => Deno.readTextFileSync(new URL("./exercise.ts", import.meta.url)),
  ".git": () => Deno.readTextFileSync("${REPO}.git"),
  ".git/HEAD": () => Deno.readTextFileSync("${REPO}.git/HEAD"),
  "deno.lock": () => Deno.readTextFileSync("${REPO}deno.lock"),
  "a course file outside the graph": () => Deno.readTextFileSync("${REPO}README.md"),
  "the course folder": () => [...Deno.readDirSync("${REPO}")],
  "another lesson's exercise": () => Deno.readTextFileSync(new URL("../02-status-names/exercise.ts", import.meta.url)),
  "the progress file": () => Deno.readTextFileSync(new URL("../.lab/state.json", import.meta.url)),
  "/etc/hostname": () => Deno.readTextFileSync("/etc/hostname"),
  "/proc/self/environ": () => Deno.readTextFileSync("/proc/self/environ"),
  "/proc/self/cmdline": () => Deno.readTextFileSync("/proc/self/cmdline"),
  "/proc/self/fd/0": () => Deno.readTextFileSync("/proc/self/fd/0"),
  "stat of the lock": () => Deno.statSync("${REPO}deno.lock"),
  "dynamic import of an unloaded course module": () => import("${REPO_URL}tests/course/helpers.ts"),
`),
    check(report) {
      assert.match(
        report.tests[0].message,
        /observed: it threw Error: allowed: own folder \(allowed\)/,
      );
    },
  },
  "writes anywhere (the lock, course files, its own folder, /tmp)": {
    course: "fixture",
    source: probing(`
  "deno.lock": () => Deno.writeTextFileSync("${REPO}deno.lock", "{}"),
  "remove deno.lock": () => Deno.removeSync("${REPO}deno.lock"),
  "a course file": () => Deno.writeTextFileSync("${REPO}README.md", ""),
  "its own folder": () => Deno.writeTextFileSync(new URL("./written.txt", import.meta.url), "x"),
  "its own exercise": () => Deno.writeTextFileSync(new URL("./exercise.ts", import.meta.url), ""),
  "the progress file": () => Deno.writeTextFileSync(new URL("../.lab/state.json", import.meta.url), "{}"),
  "/tmp": () => Deno.writeTextFileSync("/tmp/virtio-lab-sandbox-probe.txt", "x"),
  "mkdir": () => Deno.mkdirSync(new URL("./dir", import.meta.url)),
  "symlink": () => Deno.symlinkSync("${REPO}.git", new URL("./git", import.meta.url)),
  "truncate": () => Deno.truncateSync("${REPO}deno.lock", 0),
  "chmod": () => Deno.chmodSync("${REPO}deno.lock", 0o777),
  "a temporary file": () => Deno.makeTempFileSync(),
  "ask for write": () => Deno.permissions.requestSync({ name: "write" }).state === "granted" ? "granted" : "refused",
`),
    check(report) {
      assert.match(report.tests[0].message, /observed: it threw Error: allowed: none/);
    },
  },
  "network, subprocesses, FFI, environment and system information": {
    course: "fixture",
    source: probing(`
  "fetch": () => fetch("http://127.0.0.1:9/"),
  "fetch the npm registry": () => fetch("https://registry.npmjs.org/left-pad"),
  "connect": () => Deno.connect({ hostname: "127.0.0.1", port: 9 }),
  "listen": () => Deno.listen({ port: 0 }),
  "resolve DNS": () => Deno.resolveDns("example.com", "A"),
  "run a subprocess": () => new Deno.Command("/bin/sh", { args: ["-c", "true"] }).outputSync(),
  "signal the lab": () => Deno.kill(Deno.ppid, "SIGCONT"),
  "FFI": () => Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } }),
  "env": () => Deno.env.get("HOME"),
  "the whole env": () => Deno.env.toObject(),
  "process.env": () => (globalThis as unknown as { process: { env: Record<string, string> } }).process.env.HOME,
  "hostname": () => Deno.hostname(),
  "OS release": () => Deno.osRelease(),
  "network interfaces": () => Deno.networkInterfaces(),
  "ask for net": () => Deno.permissions.requestSync({ name: "net" }).state === "granted" ? "granted" : "refused",
  "ask for run": () => Deno.permissions.requestSync({ name: "run" }).state === "granted" ? "granted" : "refused",
`),
    check(report) {
      assert.match(report.tests[0].message, /observed: it threw Error: allowed: none/);
    },
  },
  "a Worker with the same permissions, probing and printing forged records": {
    course: "fixture",
    source: `
const source = \`
  const refused = [];
  for (const [name, probe] of [
    ["write", () => Deno.writeTextFileSync("${REPO}deno.lock", "{}")],
    ["read .git", () => Deno.readTextFileSync("${REPO}.git")],
    ["net", () => fetch("http://127.0.0.1:9/")],
    ["env", () => Deno.env.get("HOME")],
  ]) {
    try { await probe(); } catch { refused.push(name); }
  }
  console.log("0".repeat(64) + ' {"t":"done"}');
  postMessage(refused.join(","));
\`;
export function featureWord(_word: bigint, _select: number): number { return 0; }
export function withFeatureWord(_word: bigint, _select: number, _value: number): Promise<bigint> {
  const worker = new Worker("data:text/javascript," + encodeURIComponent(source), { type: "module" });
  return new Promise((_resolve, reject) => {
    worker.onmessage = (event) => {
      worker.terminate();
      reject(new Error("the worker was refused: " + event.data));
    };
  });
}
`,
    check(report) {
      assert.match(
        report.tests[4].message,
        /threw Error: the worker was refused: write,read \.git,net,env/,
      );
    },
  },

  // ------------------------------------------------------- never ending
  "an endless loop at load": {
    course: "fixture",
    source: `for (;;) { /* spin */ }\n${WRONG}`,
    options: { timeoutMs: 2_000 },
    check(report) {
      assert.equal(report.stage, "timeout");
      assert.ok(report.tests.every((t) => t.run === "not run"));
      assert.match(
        report.message!,
        /^timed out after 2 s while your exercise module was loading: is there an infinite loop at the top level of exercise\.ts\?$/,
      );
    },
  },
  "a promise that never settles, with nothing else left to run": {
    course: "fixture",
    source: `
export function featureWord(_word: bigint, _select: number): number { return 0; }
export function withFeatureWord(_word: bigint, _select: number, _value: number): Promise<bigint> {
  return new Promise(() => {});
}
`,
    check(report) {
      assert.equal(report.stage, "test");
      assert.deepEqual(report.tests.map((t) => t.run), [
        "finished",
        "finished",
        "finished",
        "finished",
        "interrupted",
      ]);
      assert.match(report.tests[4].message, /waited on a promise that never settles/);
    },
  },
  "a promise that never settles while a timer keeps the process alive": {
    course: "fixture",
    source: `
setInterval(() => {}, 5);
export function featureWord(_word: bigint, _select: number): number { return 0; }
export function withFeatureWord(_word: bigint, _select: number, _value: number): Promise<bigint> {
  return new Promise(() => {});
}
`,
    options: { timeoutMs: 2_000 },
    check(report) {
      assert.equal(report.stage, "timeout");
      assert.equal(report.tests[4].run, "timed out");
      assert.match(report.message!, /the check "withFeatureWord refuses a selector/);
    },
  },
  "errors left in a timer and a rejection nobody handles": {
    course: "fixture",
    source: `
export function featureWord(word: bigint, select: number): number {
  if (select === 1) Promise.reject(new Error("a rejection nobody handles"));
  if (word === 0x8000_0000n) setTimeout(() => { throw new Error("thrown in a timer"); }, 0);
  return Number((word >> BigInt(32 * select)) & 0xffff_ffffn);
}
export function withFeatureWord(word: bigint, select: number, value: number): bigint {
  if (select !== 0 && select !== 1) throw new RangeError("no such word");
  const shift = BigInt(32 * select);
  return (word & ~(0xffff_ffffn << shift)) | (BigInt(value >>> 0) << shift);
}
`,
    // Right on its own, but each of checks 2 and 3 leaves an error behind.
    honest: (check) =>
      check !== "featureWord(word, 1) is bits 32 to 63" &&
      check !== "featureWord values are unsigned",
    check(report) {
      assert.match(
        report.tests[1].message,
        /a rejection nobody handles \(exercise\.ts:\d+\) \(outside the calls the check made/,
      );
      assert.match(
        report.tests[2].message,
        /thrown in a timer \(exercise\.ts:\d+\) \(outside the calls the check made/,
      );
    },
  },

  // ------------------------------------------------------------ memory
  "a JavaScript heap that grows without end": {
    course: "fixture",
    source: `
export function featureWord(_word: bigint, _select: number): number {
  const hoard: number[][] = [];
  for (;;) hoard.push(new Array(100_000).fill(1.5));
}
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint { return word; }
`,
    options: { heapLimitBytes: 128 * 1024 ** 2 },
    check(report) {
      assert.equal(report.tests[0].run, "interrupted");
      assert.match(
        report.tests[0].message,
        /^observed: the test process ran out of memory \(its JavaScript heap is limited to 128 MiB\) while this check ran/,
      );
      assert.ok(report.tests.slice(1).every((t) => t.run === "not run"));
    },
  },
  "4 GiB and more of array buffers under the memory limit": {
    course: "fixture",
    source: `
export function featureWord(_word: bigint, select: number): number {
  if (select === 0) return new ArrayBuffer(4 * 1024 ** 3).byteLength;
  const held: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) held.push(new Uint8Array(64 * 1024 ** 2).fill(1));
  return held.length;
}
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint { return word; }
`,
    options: { memoryLimitBytes: 768 * 1024 ** 2 },
    check(report) {
      if (report.memory.enforcedBy !== "rlimit") return; // no prlimit here: see the RSS test
      assert.ok(
        report.tests.every((t) => t.run === "finished"),
        "a refused allocation is an error",
      );
      assert.match(report.tests[0].message, /RangeError: Array buffer allocation failed/);
      assert.match(report.tests[1].message, /RangeError: Array buffer allocation failed/);
    },
  },
  "4 GiB of array buffers under the shell's ulimit -d (no prlimit)": {
    course: "fixture",
    source: `
export function featureWord(_word: bigint, _select: number): number {
  return new ArrayBuffer(4 * 1024 ** 3).byteLength;
}
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint { return word; }
`,
    options: { memoryGuard: "ulimit", memoryLimitBytes: 768 * 1024 ** 2 },
    check(report) {
      assert.equal(report.memory.enforcedBy, "rlimit");
      assert.match(report.tests[0].message, /RangeError: Array buffer allocation failed/);
    },
  },
  "resident memory beyond the limit where only polling can stop it": {
    course: "fixture",
    source: `
export function featureWord(_word: bigint, _select: number): number {
  const held: Uint8Array[] = [];
  for (;;) held.push(new Uint8Array(32 * 1024 ** 2).fill(1));
}
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint { return word; }
`,
    // The poll stops it within a fraction of a second; the time limit only says "not stopped".
    options: { memoryGuard: "rss-poll", memoryLimitBytes: 384 * 1024 ** 2, timeoutMs: 20_000 },
    check(report) {
      assert.equal(report.memory.enforcedBy, "rss-poll");
      assert.equal(report.tests[0].run, "interrupted");
      assert.match(
        report.tests[0].message,
        /the test process used more than 384 MiB of memory and was stopped while this check ran/,
      );
    },
  },

  // ---------------------------------------------------------- packages
  "an npm package the course does not have, with the compile stage": {
    course: "fixture",
    source:
      `import leftPad from "npm:left-pad@1.3.0";\nexport const padded = leftPad("a", 2);\n${WRONG}`,
    options: { skipCompile: false },
    check(report) {
      assert.equal(report.stage, "compile");
      assert.match(report.compileOutput!, /left-pad/);
      assert.match(report.compileOutput!, /grading uses only the packages the course already has/);
    },
  },
  "an npm package the course does not have, at load": {
    course: "fixture",
    source:
      `import leftPad from "npm:left-pad@1.3.0";\nexport const padded = leftPad("a", 2);\n${WRONG}`,
    check(report) {
      assert.match(report.tests[0].message, /failed while loading: it threw TypeError: .*left-pad/);
      assert.match(
        report.tests[0].message,
        /grading uses only the packages the course already has/,
      );
    },
  },
  "a cached package version the lockfile does not list": {
    course: "fixture",
    source: `import fc from "npm:fast-check@4.11.0";\nexport const kind = typeof fc;\n${WRONG}`,
    check(report) {
      assert.match(report.tests[0].message, /failed while loading/);
      assert.match(
        report.tests[0].message,
        /grading uses only the packages the course already has/,
      );
    },
  },
  "a jsr: package and a remote module": {
    course: "fixture",
    source: `
const jsr = await import("jsr:@std/assert@1").then(() => "loaded", (e) => String(e));
const remote = await import("https://deno.land/std@0.224.0/assert/mod.ts").then(() => "loaded", (e) => String(e));
export function featureWord(_word: bigint, _select: number): number {
  throw new Error("jsr: " + jsr.slice(0, 60) + " / remote: " + remote.slice(0, 60));
}
export function withFeatureWord(word: bigint, _select: number, _value: number): bigint { return word; }
`,
    check(report) {
      assert.doesNotMatch(report.tests[0].message, /jsr: loaded|remote: loaded/);
      assert.match(report.tests[0].message, /jsr: TypeError/);
      assert.match(report.tests[0].message, /remote: TypeError/);
    },
  },
};

/** Honest solutions that must pass under the sandbox, noise and all. */
const honest: Record<string, Attack> = {
  "a correct solution that prints a megabyte of noise, partial lines and fake records": {
    course: "fixture",
    source: `
const noise = "x".repeat(64 * 1024);
for (let i = 0; i < 16; i++) Deno.stdout.writeSync(new TextEncoder().encode(noise));
Deno.stdout.writeSync(new TextEncoder().encode("no newline here, then a record follows"));
export function featureWord(word: bigint, select: number): number {
  Deno.stdout.writeSync(new TextEncoder().encode("partial " + "0".repeat(64) + " {\\"t\\":"));
  console.error("noise on stderr");
  if (select !== 0 && select !== 1) return 0;
  return Number((word >> BigInt(32 * select)) & 0xffff_ffffn);
}
export function withFeatureWord(word: bigint, select: number, value: number): bigint {
  if (select !== 0 && select !== 1) throw new RangeError("no such word");
  const shift = BigInt(32 * select);
  return (word & ~(0xffff_ffffn << shift)) | (BigInt(value >>> 0) << shift);
}
`,
    check(report) {
      assert.equal(report.ok, true, JSON.stringify(report, null, 2));
    },
  },
};

/** The references of every lesson of this course, graded in the sandbox. */
for (const lesson of loadCourse(REPO).lessons) {
  honest[`the reference of lesson ${lesson.number} (${lesson.id})`] = {
    course: "repo",
    lesson: lesson.number,
    source: `export * from "${pathToFileURL(lesson.paths.reference).href}";\n`,
    check(report) {
      assert.equal(report.ok, true, JSON.stringify(report, null, 2));
      assert.equal(report.passed, report.expected);
    },
  };
}

// ----------------------------------------------------------------- runner

/** Every tracked file of the repository and its SHA-256, `deno.lock` included. */
async function trackedFiles(): Promise<Map<string, string>> {
  const listed = await runCommand("git", ["-C", REPO, "ls-files", "-z"]);
  assert.equal(listed.code, 0, listed.stderr);
  const digests = new Map<string, string>();
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path.join(REPO, file));
    } catch {
      continue; // deleted in this working tree and not committed yet
    }
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
    digests.set(file, Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
  }
  return digests;
}

/** The files of a folder, recursively, and their sizes and modification times. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const full = path.join(at, entry.name);
      const info = await Deno.lstat(full);
      out.set(path.relative(dir, full), `${info.size}:${info.mtime?.getTime()}`);
      if (entry.isDirectory) await walk(full);
    }
  };
  await walk(dir);
  return out;
}

const leftPadCache = path.join(
  Deno.env.get("DENO_DIR") ?? path.join(Deno.env.get("HOME") ?? "/", ".cache", "deno"),
  "npm",
  "registry.npmjs.org",
  "left-pad",
);
const hadLeftPad = await Deno.stat(leftPadCache).then(() => true, () => false);
const before = await trackedFiles();

async function grade(attack: Attack): Promise<{ report: GradeReport; unchanged: boolean }> {
  const course = loadCourse(attack.course === "fixture" ? FIXTURE_ROOT : REPO);
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-sandbox-" });
  try {
    const workspace = await Workspace.open(course, dir);
    const lesson = course.lessons[(attack.lesson ?? 1) - 1];
    // Attacks import course files by absolute URL, so they need no rewriting.
    Deno.writeTextFileSync(
      workspace.exerciseFile(lesson),
      attack.source || lessonOneStubThatExits(workspace),
    );
    const files = await snapshot(dir);
    const report = await gradeLesson({
      workspace,
      lesson,
      timeoutMs: 10_000,
      skipCompile: true,
      ...attack.options,
    });
    const after = await snapshot(dir);
    return { report, unchanged: JSON.stringify([...files]) === JSON.stringify([...after]) };
  } finally {
    await removeDir(dir);
  }
}

/** Starts `jobs`, at most `width` at a time (the machine is shared), in order. */
function inParallel<T>(jobs: (() => Promise<T>)[], width: number): Promise<T>[] {
  const lanes = Array.from({ length: width }, () => Promise.resolve());
  return jobs.map((job, i) => {
    const result = lanes[i % width].then(job);
    lanes[i % width] = result.then(() => {}, () => {});
    return result;
  });
}

const all: Record<string, Attack> = { ...attacks, ...honest };
const names = Object.keys(all);
const runs = inParallel(names.map((name) => () => grade(all[name])), 3);
const pending = new Map(names.map((name, i) => [name, runs[i]]));
// A failed grading is reported by its own test; the last test must not see it as unhandled.
for (const run of runs) run.catch(() => {});

for (const name of Object.keys(attacks)) {
  Deno.test({
    name: `attack: ${name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const attack = attacks[name];
      const { report, unchanged } = await pending.get(name)!;
      const shown = JSON.stringify(report, null, 2);
      assert.ok(unchanged, "grading changed nothing in the workspace");
      assert.equal(report.ok, false, shown);
      assert.notEqual(report.stage, "error", `the harness itself must start: ${shown}`);
      if (report.stage !== "compile") {
        assert.equal(report.tests.length, report.expected, "one result per check of the grader");
        for (const test of report.tests) {
          if (attack.honest?.(test.name)) continue;
          assert.equal(test.status, "failed", `"${test.name}" must not pass: ${shown}`);
        }
      }
      await attack.check(report);
    },
  });
}

for (const name of Object.keys(honest)) {
  Deno.test({
    name: `honest: ${name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const { report, unchanged } = await pending.get(name)!;
      assert.ok(unchanged, "grading changed nothing in the workspace");
      await honest[name].check(report);
    },
  });
}

Deno.test({
  name:
    "no attack changed a tracked file of the course (deno.lock included) or downloaded a package",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await Promise.allSettled(runs);
    const after = await trackedFiles();
    const changed = [...before.keys()].filter((file) => before.get(file) !== after.get(file));
    assert.deepEqual(changed, []);
    assert.ok(before.has("deno.lock"));
    if (!hadLeftPad) {
      assert.ok(
        !(await Deno.stat(leftPadCache).then(() => true, () => false)),
        "npm:left-pad was not fetched into Deno's cache",
      );
    }
  },
});
