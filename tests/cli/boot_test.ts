import assert from "node:assert/strict";
import { assertOneLineError, hasTool, lab, labCommandLine, REPO, requireTool } from "./_run.ts";

Deno.test("boot with piped input: banner, commands through the console, power off at end of input", async () => {
  const result = await lab(["boot"], {
    stdin: "help\ndevices\ndisk info\ndisk read 2\nstats\nlog\n",
  });
  assert.equal(result.code, 0, result.stderr);
  const out = result.stdout;
  assert.match(out, /virtio-lab guest: booted on a virtio-mmio machine/);
  assert.match(out, /virtio_block@1e000 +irq 42 +live +virtio-blk \(built-in, 4 MiB in memory\)/);
  assert.match(out, /disk read SECTOR \[COUNT\]/);
  assert.match(out, /0x1e000 +42 +2 +2 virtio-blk +virtio_blk +0x0f DRIVER_OK +0:256/);
  assert.match(out, /capacity: +8192 sectors/);
  assert.match(out, /00000400 {2}48 65 6c 6c 6f/);
  assert.match(out, /0 requestq/);
  assert.match(out, /no violations/);
  assert.match(out, /Input ended: powering off\./);
});

Deno.test("boot: 'exit' powers off with status 0", async () => {
  const result = await lab(["boot"], { stdin: "exit\nhelp\n" });
  assert.equal(result.code, 0);
  assert.match(result.stdout, /Powering off\./);
  assert.doesNotMatch(result.stdout, /list the commands/, "nothing runs after exit");
});

Deno.test("boot refuses a bad disk image or socket path in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.match(
      assertOneLineError(await lab(["boot", "--disk", `${dir}/none.img`])),
      /does not exist/,
    );
    assert.match(assertOneLineError(await lab(["boot", "--disk", dir])), /is a directory/);
    await Deno.writeTextFile(`${dir}/file`, "keep me");
    const busy = assertOneLineError(await lab(["boot", "--console-socket", `${dir}/file`]));
    assert.match(busy, /not a socket.*untouched/);
    assert.equal(await Deno.readTextFile(`${dir}/file`), "keep me");
    assert.match(
      assertOneLineError(await lab(["boot", "--console-socket", `${dir}/no/such/dir/s`])),
      /directory does not exist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Reads from a connection until `pattern` shows up in everything read so far. */
async function readUntil(conn: Deno.Conn, seen: { text: string }, pattern: RegExp): Promise<void> {
  const buf = new Uint8Array(4096);
  const deadline = Date.now() + 10_000;
  while (!pattern.test(seen.text)) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${pattern}; got:\n${seen.text}`);
    }
    const n = await conn.read(buf);
    if (n === null) throw new Error(`connection closed before ${pattern}; got:\n${seen.text}`);
    seen.text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

Deno.test("boot --console-socket: a client gets the same shell, and may reconnect", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/console.sock`;
  const vm = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli/main.ts", "boot", "--console-socket", path],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    for (let i = 0; i < 200; i++) {
      try {
        if ((await Deno.lstat(path)).isSocket) break;
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 25));
    }
    const first = await Deno.connect({ transport: "unix", path });
    const seen = { text: "" };
    await readUntil(first, seen, /guest\$ $/);
    assert.match(seen.text, /virtio-lab guest: booted/);
    await first.write(new TextEncoder().encode("disk read 2\r"));
    await readUntil(first, seen, /Hello from secto[\s\S]*guest\$ $/);
    first.close();
    const second = await Deno.connect({ transport: "unix", path });
    const again = { text: "" };
    await second.write(new TextEncoder().encode("devices\r"));
    await readUntil(second, again, /virtio_console@1e200[\s\S]*guest\$ $/);
    await second.write(new TextEncoder().encode("exit\r"));
    await readUntil(second, again, /Powering off\./);
    second.close();
    const status = await vm.status;
    assert.equal(status.code, 0);
    await assert.rejects(
      Deno.lstat(path),
      Deno.errors.NotFound,
      "the socket file is removed at power off",
    );
  } finally {
    try {
      vm.kill();
    } catch { /* already gone */ }
    await vm.stdout.cancel();
    await vm.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("boot --port: a named loopback port is listed, and what the guest sends it comes back", async () => {
  const result = await lab(["boot", "--port", "org.lab.echo", "--port", "org.lab.two=echo"], {
    stdin: "ports\nport send org.lab.echo hello port one\nport recv org.lab.echo\ndevices\nlog\n",
  });
  assert.equal(result.code, 0, result.stderr);
  const out = result.stdout;
  assert.match(out, /console ports: 0 this console, 1 org\.lab\.echo, 2 org\.lab\.two/);
  assert.match(out, /^1 +org\.lab\.echo +no +open +closed +\d+ +\d+\r?$/m);
  assert.match(out, /max_nr_ports 3/);
  assert.match(out, /sent 15 bytes to port 1 \(org\.lab\.echo\)/);
  assert.match(out, /15 bytes from port 1 \(org\.lab\.echo\):\r\nhello port one/);
  assert.match(out, /virtio_console@1e200: VIRTIO_CONSOLE_F_MULTIPORT/);
  assert.match(out, /0:256\s+1:256\s+2:256\s+3:256\s+4:256\s+5:256\s+6:256\s+7:256/);
  assert.match(out, /no violations/);
});

Deno.test("boot --port refuses a bad port spec in one line", async () => {
  assert.match(assertOneLineError(await lab(["boot", "--port", "a b"])), /without spaces/);
  assert.match(
    assertOneLineError(await lab(["boot", "--port", "x=tcp:1"])),
    /'echo' or 'socket:PATH'/,
  );
  assert.match(
    assertOneLineError(await lab(["boot", "--port", "x", "--port", "x=echo"])),
    /given twice/,
  );
});

Deno.test("boot --port NAME=socket:PATH: a host program talks to the guest on a second port", async () => {
  const dir = await Deno.makeTempDir();
  const consolePath = `${dir}/console.sock`;
  const portPath = `${dir}/port.sock`;
  const vm = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "cli/main.ts",
      "boot",
      "--console-socket",
      consolePath,
      "--port",
      `org.lab.host=socket:${portPath}`,
    ],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    for (let i = 0; i < 200; i++) {
      try {
        if ((await Deno.lstat(consolePath)).isSocket) break;
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 25));
    }
    const shell = await Deno.connect({ transport: "unix", path: consolePath });
    const seen = { text: "" };
    await readUntil(shell, seen, /guest\$ $/);
    const host = await Deno.connect({ transport: "unix", path: portPath });
    await host.write(new TextEncoder().encode("hello guest\n"));
    await shell.write(new TextEncoder().encode("port recv org.lab.host 5000\r"));
    await readUntil(
      shell,
      seen,
      /12 bytes from port 1 \(org\.lab\.host\):\r\nhello guest[\s\S]*guest\$ $/,
    );
    await shell.write(new TextEncoder().encode("port send org.lab.host hello host\r"));
    const heard = { text: "" };
    await readUntil(host, heard, /hello host\n/);
    await shell.write(new TextEncoder().encode("exit\r"));
    await readUntil(shell, seen, /Powering off\./);
    shell.close();
    host.close();
    assert.equal((await vm.status).code, 0);
  } finally {
    try {
      vm.kill();
    } catch { /* already gone */ }
    await vm.stdout.cancel();
    await vm.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});

const tmux = hasTool("tmux");

Deno.test({
  name: "boot in a real terminal (tmux): raw mode, echo, resize, exit restores the terminal",
  ...requireTool(tmux, "tmux"),
  async fn() {
    const session = `lab-boot-${Deno.pid}`;
    const sh = (...args: string[]) =>
      new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
    const pane = async () =>
      new TextDecoder().decode((await sh("capture-pane", "-t", session, "-p")).stdout);
    const waitPane = async (pattern: RegExp) => {
      for (let i = 0; i < 400; i++) {
        const text = await pane();
        if (pattern.test(text)) return text;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`tmux pane never showed ${pattern}:\n${await pane()}`);
    };
    await sh(
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      "120",
      "-y",
      "40",
      `cd ${REPO} && ${
        labCommandLine(["boot"])
      }; echo "EXITED $?"; stty -a | grep -o -- '-*icanon'; sleep 5`,
    );
    try {
      await waitPane(/^guest\$\s*$/m);
      await sh("send-keys", "-t", session, "disk info", "Enter");
      await waitPane(/id: +virtio-lab-builtin/);
      await sh("send-keys", "-t", session, "console", "Enter");
      await waitPane(/size: +120 columns x 40 rows/);
      await sh("resize-window", "-t", session, "-x", "100", "-y", "30");
      await new Promise((r) => setTimeout(r, 300));
      await sh("send-keys", "-t", session, "console", "Enter");
      await waitPane(/size: +100 columns x 30 rows/);
      await sh("send-keys", "-t", session, "exit", "Enter");
      const text = await waitPane(/EXITED \d+[\s\S]*icanon/);
      assert.match(text, /Powering off\.\s+EXITED 0/);
      assert.match(text, /^icanon$/m, "the terminal is back in canonical mode");
    } finally {
      await sh("kill-session", "-t", session);
    }
  },
});

Deno.test("boot --mine runs the machine on the parts of every passed lesson, and refuses with none", async () => {
  const workspace = await Deno.makeTempDir();
  try {
    const env = { VIRTIO_LAB_WORKSPACE: workspace };
    const none = await lab(["boot", "--mine"], { stdin: "exit\n", env });
    assert.match(assertOneLineError(none), /no lesson passes yet/);
    // A "solution" that re-exports the library's own parts, so that lesson 1 passes.
    await Deno.writeTextFile(
      `${workspace}/01-mmio-window/exercise.ts`,
      `export { checkRegisterAccess, probeWindow, readIdentification } from "${REPO}lessons/01-mmio-window/reference.ts";\n`,
    );
    const check = await lab(["check", "1"], { env });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const boot = await lab(["boot", "--mine"], { stdin: "disk read 2\nlog\n", env });
    assert.equal(boot.code, 0, boot.stderr);
    assert.match(boot.stdout, /Your code in this machine, part by part/);
    assert.match(
      boot.stdout,
      /transport\.device +2\/\d+ +checkRegisterAccess \(lesson 1\), readIdentification \(lesson 1\)/,
    );
    assert.match(boot.stdout, /transport\.driver +1\/\d+ +probeWindow \(lesson 1\)/);
    assert.match(
      boot.stdout,
      /Withheld until their lessons pass: VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX/,
    );
    assert.match(boot.stdout, /Hello from secto/);
    assert.match(boot.stdout, /no violations/);
  } finally {
    await Deno.remove(workspace, { recursive: true });
  }
});

Deno.test("boot --legacy: the banner says legacy, devices shows Version 1 and 32-bit features", async () => {
  const result = await lab(["boot", "--legacy"], { stdin: "devices\ndisk read 2\nlog\nexit\n" });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /booted on a legacy \(Version 1\) virtio-mmio machine/);
  assert.match(result.stdout, /^0x1e000 +42 +1 \(legacy\) +2 virtio-blk/m);
  assert.match(result.stdout, /^0x1e200 +43 +1 \(legacy\) +3 virtio-console/m);
  assert.match(result.stdout, /0x07 ACKNOWLEDGE DRIVER DRIVER_OK/);
  assert.doesNotMatch(result.stdout, /VIRTIO_F_VERSION_1|FEATURES_OK/);
  assert.match(result.stdout, /00000400 {2}48 65 6c 6c 6f/);
  assert.match(result.stdout, /no violations/);
});
