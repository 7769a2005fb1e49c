import assert from "node:assert/strict";
import { lab, REPO } from "./_run.ts";

const config = JSON.parse(await Deno.readTextFile(`${REPO}deno.json`));

Deno.test("lab --version and -V print deno.json's version, alone on stdout", async () => {
  assert.match(config.version, /^\d+\.\d+\.\d+/);
  for (const flag of ["--version", "-V"]) {
    const run = await lab([flag]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${config.version}\n`);
    assert.equal(run.stderr, "");
  }
});

Deno.test("every task in deno.json has a description that `deno task` lists with it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task"],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0);
  // `deno task` with no name lists the tasks on stdout.
  const listing = new TextDecoder().decode(out.stdout);
  const names = Object.keys(config.tasks);
  for (const name of ["lab", "test", "check", "fuzz"]) assert.ok(names.includes(name), name);
  for (const name of names) {
    const task = config.tasks[name];
    assert.equal(typeof task.description, "string", `${name} has a description`);
    assert.ok(task.description.length > 10, `${name}'s description says something`);
    assert.ok(
      listing.includes(`- ${name}\n    // ${task.description}\n    ${task.command}`),
      `deno task lists ${name} with its description and command:\n${listing}`,
    );
  }
});

Deno.test("deno task lab runs the lab command with its arguments (the task's object form)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "lab", "--version"],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout), `${config.version}\n`);
});

Deno.test("help shows the command as typed: deno task lab under deno task", async () => {
  const help = await lab(["check", "--help"], { env: { INIT_CWD: REPO } });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task lab check \[options\] \[lesson\]$/m);
  const top = await lab(["--help"], { env: { INIT_CWD: REPO } });
  assert.match(top.stdout, /Start with `deno task lab` \(where you stand/);
  const bad = await lab(["frobnicate"], { env: { INIT_CWD: REPO } });
  assert.match(bad.stderr, /run `deno task lab --help` for usage/);
});
