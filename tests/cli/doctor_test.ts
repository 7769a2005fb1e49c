import assert from "node:assert/strict";
import {
  diagnose,
  type DoctorProbe,
  formatDoctor,
  PINNED_DENO_VERSION,
  type ProbeOutput,
} from "../../cli/doctor.ts";
import { REPO } from "./_run.ts";

const TOOLS = ["deno", "jupyter", "deno jupyter kernel", "tmux", "socat", "mkfs.ext2"];

/** Runs `lab doctor` with the given PATH. */
async function doctor(path: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--allow-run", "cli/main.ts", "doctor"],
    cwd: REPO,
    env: { NO_COLOR: "1", PATH: path },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("the Deno version doctor checks against is the one .ci/run pins", async () => {
  const ci = await Deno.readTextFile(`${REPO}.ci/run`);
  assert.equal(ci.match(/^DENO_VERSION="([^"]+)"$/m)?.[1], PINNED_DENO_VERSION);
});

Deno.test("lab doctor names every tool with its state, and exits 0", async () => {
  const run = await doctor(Deno.env.get("PATH") ?? "");
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  for (const tool of TOOLS) {
    const escaped = tool.replace(/\./g, "\\.");
    assert.match(run.stdout, new RegExp(`^  (ok|outdated|missing) +${escaped}  `, "m"), tool);
  }
  assert.match(run.stdout, new RegExp(`^  (ok|outdated) +deno +deno ${Deno.version.deno}`, "m"));
});

Deno.test("with nothing on PATH, lab doctor says what is missing and which Debian package has it", async () => {
  const empty = await Deno.makeTempDir();
  try {
    const run = await doctor(empty);
    assert.equal(run.code, 0, run.stderr);
    for (const tool of ["jupyter", "tmux", "socat"]) {
      assert.match(run.stdout, new RegExp(`^  missing +${tool} +not installed$`, "m"));
    }
    assert.match(run.stdout, /^ {2}missing +deno jupyter kernel +needs jupyter first$/m);
    assert.match(run.stdout, /^To get what is missing \(\d of 6\):$/m);
    assert.match(
      run.stdout,
      /^ {2}jupyter +sudo apt-get install jupyter-notebook jupyter-client /m,
    );
    assert.match(run.stdout, /^ {2}tmux +sudo apt-get install tmux$/m);
    assert.match(run.stdout, /^ {2}socat +sudo apt-get install socat$/m);
    // mkfs.ext2 is also looked for in /usr/sbin and /sbin, which PATH often lacks.
    const mkfs = run.stdout.match(/^ {2}(ok|missing) +mkfs\.ext2 .*$/m);
    assert.ok(mkfs, run.stdout);
    if (mkfs[1] === "missing") {
      assert.match(run.stdout, /^ {2}mkfs\.ext2 +sudo apt-get install e2fsprogs$/m);
    }
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

/** A machine made up for a test: programs and what they print. */
function fakeProbe(
  denoVersion: string,
  programs: Record<string, (args: string[]) => ProbeOutput>,
): DoctorProbe {
  return {
    denoVersion,
    which: (name) => (name in programs ? `/opt/bin/${name}` : null),
    run(cmd, args) {
      const name = cmd.replace(/^\/opt\/bin\//, "");
      return Promise.resolve(programs[name] ? programs[name](args) : null);
    },
  };
}

const ok = (stdout: string, stderr = ""): ProbeOutput => ({ ok: true, stdout, stderr });

Deno.test("diagnose: another Deno is outdated; a Jupyter without the Deno kernel says how to add it", async () => {
  const findings = await diagnose(fakeProbe("2.1.0", {
    jupyter: (args) =>
      args[0] === "kernelspec"
        ? ok(JSON.stringify({ kernelspecs: { python3: { resource_dir: "/k/python3" } } }))
        : ok("jupyter_client   : 8.0.0\njupyter_core     : 5.1.0\n"),
    tmux: () => ok("tmux 3.4\n"),
    socat: () => ok("socat by someone\nsocat version 1.8.0.0 on today\n"),
    "mkfs.ext2": () => ok("", "mke2fs 1.47.1 (20-May-2024)\n\tUsing EXT2FS Library\n"),
  }));
  assert.deepEqual(findings.map((f) => [f.tool, f.state]), [
    ["deno", "outdated"],
    ["jupyter", "ok"],
    ["deno jupyter kernel", "missing"],
    ["tmux", "ok"],
    ["socat", "ok"],
    ["mkfs.ext2", "ok"],
  ]);
  assert.equal(findings[0].found, `deno 2.1.0, but CI pins ${PINNED_DENO_VERSION}`);
  assert.match(findings[0].fix!, new RegExp(`npm install -g deno@${PINNED_DENO_VERSION}`));
  assert.equal(findings[1].found, "jupyter_core 5.1.0");
  assert.match(findings[2].fix!, /deno jupyter --install/);
  assert.equal(findings[4].found, "socat version 1.8.0.0 on today (/opt/bin/socat)");
  assert.equal(findings[5].found, "mke2fs 1.47.1 (20-May-2024) (/opt/bin/mkfs.ext2)");
  const text = formatDoctor(findings, false).join("\n");
  assert.match(text, /^ {2}outdated +deno +deno 2\.1\.0/m);
  assert.match(text, /^To get what is missing \(2 of 6\):$/m);
});

Deno.test("diagnose: a kernel without NO_COLOR is flagged; a broken kernelspec listing counts as missing", async () => {
  const registered = await diagnose(fakeProbe(PINNED_DENO_VERSION, {
    jupyter: (args) =>
      args[0] === "kernelspec"
        ? ok(JSON.stringify({ kernelspecs: { deno: { resource_dir: "/k/deno", spec: {} } } }))
        : ok("jupyter_core     : 5.1.0\n"),
  }));
  assert.equal(registered[0].state, "ok");
  assert.equal(registered[2].state, "ok");
  assert.match(registered[2].found, /^\/k\/deno \(without NO_COLOR/);
  assert.deepEqual(registered.slice(3).map((f) => [f.tool, f.state, f.fix]), [
    ["tmux", "missing", "sudo apt-get install tmux"],
    ["socat", "missing", "sudo apt-get install socat"],
    ["mkfs.ext2", "missing", "sudo apt-get install e2fsprogs"],
  ]);
  const broken = await diagnose(fakeProbe(PINNED_DENO_VERSION, {
    jupyter: () => ({ ok: false, stdout: "", stderr: "Traceback ..." }),
  }));
  assert.equal(broken[1].state, "missing");
  assert.equal(broken[1].found, "`jupyter kernelspec list --json` failed");
  assert.match(broken[1].fix!, /^sudo apt-get install jupyter-notebook /);
});
