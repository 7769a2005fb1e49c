// lab completions: scripts generated from the program's command tree, valid for their shell,
// completing subcommands, options, option values and lesson ids.
import assert from "node:assert/strict";
import { Command } from "@commander-js/extra-typings";
import { buildProgram, LAB_VERSION } from "../../cli/main.ts";
import { completionScript, courseLessons } from "../../cli/completions.ts";
import { hasTool, lab } from "./_run.ts";

const lessons = courseLessons();
const program = await buildProgram();
const script = (shell: string) => completionScript(shell, program, lessons, LAB_VERSION);

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  return { code: out.code, out: text.decode(out.stdout) + text.decode(out.stderr) };
}

async function withScript<T>(shell: string, fn: (file: string) => Promise<T>): Promise<T> {
  const file = await Deno.makeTempFile({ suffix: `.${shell}` });
  try {
    await Deno.writeTextFile(file, script(shell));
    return await fn(file);
  } finally {
    await Deno.remove(file);
  }
}

function skipUnless(tool: string): { ignore: boolean } {
  const there = hasTool(tool);
  if (!there) {
    console.warn(`skipping: ${tool} is not installed (the ${tool} script is not checked)`);
  }
  return { ignore: !there };
}

Deno.test("the course offers each lesson by number and by id", () => {
  assert.ok(lessons.length >= 2);
  assert.deepEqual(lessons.slice(0, 2).map((l) => l.value), ["1", "mmio-window"]);
});

Deno.test("bash: valid, and completes commands, lesson ids, options and their values", async () => {
  await withScript("bash", async (file) => {
    assert.equal((await run("bash", ["-n", file])).code, 0);
    // Drive the completion function as bash's programmable completion would.
    const driver = `source ${file}
comp() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _lab; echo "\${COMPREPLY[*]}"; }
comp lab ''
comp lab ch
comp lab check ''
comp lab show mmio
comp lab check --t
comp lab fuzz --target blk
comp lab disk ''
comp lab hint 1 ''
comp lab completions ''`;
    const { code, out } = await run("bash", ["-c", driver]);
    assert.equal(code, 0, out);
    const [top, ch, check, show, option, target, disk, second, shells] = out.split("\n");
    for (const name of ["boot", "disk", "check", "watch", "next", "completions", "help"]) {
      assert.ok(top.split(" ").includes(name), `${name} in ${top}`);
    }
    assert.equal(ch, "check");
    assert.deepEqual(check.split(" ").slice(0, 4), ["1", "mmio-window", "2", "status-reset"]);
    assert.equal(show, "mmio-window");
    assert.equal(option, "--timeout");
    assert.equal(target, "blk blk-driver blk-bringup");
    assert.equal(disk, "info read write discard zero help");
    assert.equal(second, "", "hint's second argument is a hint number: nothing to offer");
    assert.equal(shells, "bash zsh fish");
  });
});

Deno.test("zsh: valid, with every command and lesson described", skipUnless("zsh"), async () => {
  await withScript("zsh", async (file) => {
    const checked = await run("zsh", ["-n", file]);
    assert.equal(checked.code, 0, checked.out);
    const text = await Deno.readTextFile(file);
    assert.match(text, /^#compdef lab$/m);
    assert.ok(text.includes("'check:grade one lesson'"));
    assert.ok(text.includes("'mmio-window:The MMIO window'"));
    assert.match(
      text,
      /_lab_check\(\) \{\n {2}_arguments -s \\\n(?:.*\n)*? {4}'1:lesson:_lab_lessons'/,
    );
    // Loading it outside completion registers the function for lab.
    const loaded = await run("zsh", [
      "-f",
      "-c",
      `autoload -U compinit && compinit -u -D && source ${file} && print -r -- $_comps[lab]`,
    ]);
    assert.equal(loaded.out.trim(), "_lab");
  });
});

Deno.test(
  "fish: valid, and completes commands, lesson ids with titles and options",
  skipUnless("fish"),
  async () => {
    await withScript("fish", async (file) => {
      const checked = await run("fish", ["-n", file]);
      assert.equal(checked.code, 0, checked.out);
      const complete = async (line: string) => {
        const { code, out } = await run("fish", [
          "--no-config",
          "-c",
          `source ${file}; complete -C${JSON.stringify(line)}`,
        ]);
        assert.equal(code, 0, out);
        return out.trim().split("\n").map((l) => l.split("\t"));
      };
      const top = (await complete("lab ")).map(([name]) => name);
      for (const name of ["boot", "check", "completions", "next", "watch"]) {
        assert.ok(top.includes(name));
      }
      assert.deepEqual((await complete("lab check mm"))[0], ["mmio-window", "The MMIO window"]);
      assert.deepEqual((await complete("lab show 1"))[0], ["1", "The MMIO window"]);
      assert.deepEqual((await complete("lab disk r")).map(([n]) => n), ["read"]);
      assert.ok((await complete("lab check --")).some(([n]) => n === "--timeout"));
      assert.deepEqual(
        (await complete("lab check 1 ")).filter(([n]) => n === "2"),
        [],
        "one lesson",
      );
    });
  },
);

Deno.test("the scripts follow the program: a new command or option appears without editing them", () => {
  const extra = new Command().name("lab");
  extra.command("frobnicate").description("a command added later")
    .option("--widget <file>", "a file").argument("[lesson]", "a lesson");
  for (const shell of ["bash", "zsh", "fish"]) {
    const text = completionScript(shell, extra, lessons, "9.9.9");
    assert.ok(text.includes("frobnicate"), shell);
    assert.match(text, shell === "fish" ? /-l widget -r -F/ : /--widget/, shell);
    assert.ok(text.includes("9.9.9"), shell);
  }
});

Deno.test("lab completions prints a script; an unknown shell is refused", async () => {
  const ok = await lab(["completions", "bash"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^complete -F _lab lab$/m);
  const bad = await lab(["completions", "tcsh"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /'tcsh' is invalid .* Allowed choices are bash, zsh, fish/);
  assert.throws(
    () => completionScript("tcsh", program, lessons, "0"),
    /give one of bash, zsh, fish/,
  );
});
