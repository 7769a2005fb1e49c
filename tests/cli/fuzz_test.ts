import assert from "node:assert/strict";
import { assertOneLineError, lab, REPO } from "./_run.ts";
import { fuzz } from "../../cli/fuzz.ts";
import { TRUSTS_NEXT, TRUSTS_USED } from "../fuzz/planted.ts";

Deno.test("lab fuzz on the reference passes and gives the figures", async () => {
  const run = await lab(["fuzz", "--target", "device", "--seed", "3", "--ops", "2000"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^Fuzzed 2,000 steps from seed 3 in [\d.]+ s: [\d,]+ steps\/s/m);
  assert.match(run.stdout, /Uncaught exceptions: 0; hangs: 0/);
  assert.match(run.stdout, /Peak memory: \d+ MiB resident/);
  assert.match(run.stdout, /No failures\.\n\nPASS/);
});

Deno.test("lab fuzz --json gives the report as JSON", async () => {
  const run = await lab(["fuzz", "--target", "driver", "--seed", "1", "--ops", "500", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.ops, 500);
  assert.equal(report.seed, 1);
  assert.deepEqual(report.targets.map((t: { target: string }) => t.target), ["driver"]);
  assert.equal(report.passed, true);
});

Deno.test("lab fuzz refuses a bad target or count in one line", async () => {
  const bad = await lab(["fuzz", "--target", "net"]);
  assert.notEqual(bad.code, 0);
  assert.match(
    bad.stderr,
    /Allowed choices are blk, console, driver, blk-driver, console-driver, blk-bringup, console-bringup, device, bringup, drivers, all/,
  );
  const ops = await lab(["fuzz", "--ops", "-5"]);
  assert.notEqual(ops.code, 0);
});

Deno.test("lab fuzz --mine refuses with no lesson passed, and runs lesson 1's parts once it passes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const env = { VIRTIO_LAB_WORKSPACE: `${dir}/workspace` };
    const none = await lab(["fuzz", "--mine", "--ops", "100"], { env });
    assert.match(assertOneLineError(none), /no lesson passes yet/);
    await lab(["status"], { env });
    await Deno.writeTextFile(
      `${dir}/workspace/01-mmio-window/exercise.ts`,
      `export { checkRegisterAccess, probeWindow, readIdentification } from "${REPO}lessons/01-mmio-window/reference.ts";\n`,
    );
    const check = await lab(["check", "1"], { env });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const run = await lab(["fuzz", "--mine", "--target", "blk", "--seed", "2", "--ops", "600"], {
      env,
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /transport\.device +\d+\/\d+ +checkRegisterAccess \(lesson 1\)/);
    assert.match(run.stdout, /What your code did, per hostile case class:/);
    assert.match(
      run.stdout,
      /blk +a register access at any offset and width: \d+ case\(s\); reported 4\.2\.2\.2/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lab fuzz on a device half that trusts next: FAIL, each class's verdict, replay lines", async () => {
  const lines: string[] = [];
  const code = await fuzz({
    mine: true,
    parts: TRUSTS_NEXT,
    seed: 1,
    ops: 3000,
    target: "device",
    print: (l) => lines.push(l),
  });
  const text = lines.join("\n");
  assert.equal(code, 1);
  assert.match(
    text,
    /a chain that loops \[2\.7\.5\.3\.1\/3\]: \d+ case\(s\);.*hung, stopped by a read budget or the step watchdog \(\d+\): FAIL/,
  );
  assert.match(text, /accepted silently \(\d+\): FAIL/);
  assert.match(
    text,
    /replay: deno task lab fuzz --mine --target (blk|console) --seed \d+ --ops \d+/,
  );
  assert.match(text, /\nFAIL$/);
});

Deno.test("lab fuzz on a driver half that trusts the used id and len: FAIL with the rule", async () => {
  const lines: string[] = [];
  const code = await fuzz({
    mine: true,
    parts: TRUSTS_USED,
    seed: 1,
    ops: 1000,
    target: "driver",
    print: (l) => lines.push(l),
  });
  assert.equal(code, 1);
  const text = lines.join("\n");
  assert.match(
    text,
    /driver +a used id beyond Queue Size \[2\.7\.8\/D1\]: \d+ case\(s\); accepted silently/,
  );
  assert.match(text, /driver silent \(2\.7\.8\/D1\) at seed \d+ step \d+/);
});

Deno.test("lab fuzz with parts that loop without reading guest memory reports hung and goes on", async () => {
  const lines: string[] = [];
  const code = await fuzz({
    seed: 1,
    ops: 400,
    target: "blk",
    partsModule: new URL("../fuzz/_looping_parts.ts", import.meta.url).href,
    stepTimeoutMs: 800,
    print: (line) => lines.push(line),
  });
  const out = lines.join("\n");
  assert.equal(code, 1, out);
  assert.match(out, /^Fuzzed 400 steps from seed 1/m);
  assert.match(out, /hangs: [1-9]/);
  assert.match(out, /did not finish within 800 ms and was stopped/);
  assert.match(out, /FAIL/);
});
