// End-to-end: `lab boot --linux` boots Debian's i386 kernel in v86 on the
// lab's virtio devices, as a user would run it with `--console-socket` and
// `socat`. The guest mounts an ext2 image made with `mkfs.ext2 -d`, prints a
// file of it, lists the two virtio devices, writes a file, syncs and powers
// off; `debugfs` then finds the file in the image on the host. A second boot
// runs with `--mine` on every lesson's reference binding.
//
// These tests need the Debian packages (fetched and cached at first use) and
// e2fsprogs. Without them they are skipped with a message, except under CI
// (`CI` set), where `.ci/run` fetches them first and a missing one fails.

import assert from "node:assert/strict";
import { ensureLinuxAssets, LinuxAssetsError } from "../../linux/assets.ts";
import { REPO } from "../cli/_run.ts";

const CI = Boolean(Deno.env.get("CI"));
/** The budget for the whole test: boot, commands, power-off, check. */
const BUDGET_MS = 120_000;

const LAB_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net",
  "--allow-sys=hostname",
];

async function has(command: string, args: string[]): Promise<boolean> {
  try {
    await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

async function prerequisites(): Promise<string | null> {
  if (!(await has("mkfs.ext2", ["-V"])) || !(await has("debugfs", ["-V"]))) {
    return "e2fsprogs (mkfs.ext2, debugfs) is not installed";
  }
  try {
    await ensureLinuxAssets({ say: (line) => console.error(`tests/linux/boot_test.ts: ${line}`) });
  } catch (error) {
    if (error instanceof LinuxAssetsError) return `${error.message} (${error.hint})`;
    throw error;
  }
  return null;
}

const missing = await prerequisites();
if (missing) {
  if (CI) throw new Error(`tests/linux/boot_test.ts cannot run under CI: ${missing}`);
  console.error(`tests/linux/boot_test.ts: skipping the Linux boot tests: ${missing}`);
}

async function run(command: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

/** An ext2 image of 8 MiB holding `hello.txt`. */
async function helloImage(dir: string, text: string): Promise<string> {
  await Deno.mkdir(`${dir}/root`);
  await Deno.writeTextFile(`${dir}/root/hello.txt`, text);
  const image = `${dir}/disk.img`;
  await run("mkfs.ext2", ["-q", "-d", `${dir}/root`, image, "8M"]);
  return image;
}

/** A guest console reached over the `--console-socket`, as `socat` would. */
class GuestConsole {
  #text = "";
  #conn: Deno.UnixConn;
  #closed = false;
  readonly done: Promise<void>;

  constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
    this.done = (async () => {
      const decoder = new TextDecoder();
      const buffer = new Uint8Array(4096);
      try {
        for (;;) {
          const n = await conn.read(buffer);
          if (n === null) break;
          this.#text += decoder.decode(buffer.subarray(0, n), { stream: true });
        }
      } catch {
        // The machine closed the socket as it powered off.
      }
      this.#closed = true;
    })();
  }

  get text(): string {
    return this.#text;
  }

  /** Waits for `pattern` after `from` (an offset in the text), returns where it ends. */
  async waitFor(pattern: RegExp, from: number, deadline: number): Promise<number> {
    for (;;) {
      const match = pattern.exec(this.#text.slice(from));
      if (match) return from + match.index + match[0].length;
      if (this.#closed || performance.now() > deadline) {
        throw new Error(
          `No ${pattern} on the console (${this.#closed ? "closed" : "timed out"}); it says:\n` +
            this.#text.slice(-2000),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async type(line: string): Promise<void> {
    await this.#conn.write(new TextEncoder().encode(line + "\r"));
  }
}

async function connect(path: string, deadline: number): Promise<Deno.UnixConn> {
  for (;;) {
    try {
      return await Deno.connect({ transport: "unix", path });
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const PROMPT = /virtio-lab:[^\n]*# /;

/**
 * Boots `lab boot --linux --disk IMAGE --console-socket S [extra]`, runs the
 * issue's commands, powers off, and returns the console text and exit.
 */
async function bootAndUse(
  image: string,
  dir: string,
  extra: string[],
  env: Record<string, string>,
): Promise<{ console: string; code: number; stderr: string; seconds: number }> {
  const start = performance.now();
  const deadline = start + BUDGET_MS;
  const socket = `${dir}/console.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...LAB_FLAGS,
      "cli/main.ts",
      "boot",
      "--linux",
      "--disk",
      image,
      "--console-socket",
      socket,
      ...extra,
    ],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const output = child.output();
  let guest: GuestConsole | undefined;
  try {
    guest = new GuestConsole(await connect(socket, deadline));
    let at = await guest.waitFor(PROMPT, 0, deadline);
    await guest.type("cat /mnt/hello.txt");
    at = await guest.waitFor(PROMPT, at, deadline);
    await guest.type("ls /sys/bus/virtio/devices");
    at = await guest.waitFor(PROMPT, at, deadline);
    await guest.type("echo 'written by Linux through virtio-blk' > /mnt/from-linux.txt && sync");
    at = await guest.waitFor(PROMPT, at, deadline);
    await guest.type("poweroff");
    const remaining = deadline - performance.now();
    const out = await Promise.race([
      output,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("lab did not exit after poweroff")), remaining)
      ),
    ]);
    await guest.done;
    return {
      console: guest.text,
      code: out.code,
      stderr: new TextDecoder().decode(out.stderr),
      seconds: (performance.now() - start) / 1000,
    };
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    const out = await output;
    throw new Error(
      `${error instanceof Error ? error.message : error}\nlab's stderr:\n` +
        new TextDecoder().decode(out.stderr),
    );
  }
}

Deno.test({
  name: "Linux boots on the lab's devices: mounts the ext2 disk, lists two virtio devices, " +
    "writes a file that debugfs finds, powers off with status 0, within 120 s",
  ignore: missing !== null,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "virtio-lab-linux-" });
    try {
      const image = await helloImage(dir, "hello from mkfs.ext2 -d\n");
      const result = await bootAndUse(image, dir, [], {});
      assert.equal(result.code, 0, result.stderr);
      const screen = result.console.replace(/\r/g, "");
      assert.match(screen, /virtio0: device 0x0002 vendor 0x42414c56 driver virtio_blk/);
      assert.match(screen, /virtio1: device 0x0003 vendor 0x42414c56 driver virtio_console/);
      assert.match(screen, /\/dev\/vda \(8192 KiB\) mounted on \/mnt/);
      assert.match(screen, /cat \/mnt\/hello.txt\nhello from mkfs.ext2 -d\n/);
      assert.match(screen, /ls \/sys\/bus\/virtio\/devices\nvirtio0 +virtio1\n/);
      assert.match(result.stderr, /the guest powered off/);
      assert.doesNotMatch(result.stderr, /conformance violation/);
      const written = await run("debugfs", ["-R", "cat /from-linux.txt", image]);
      assert.equal(written, "written by Linux through virtio-blk\n");
      const fsck = await new Deno.Command("e2fsck", {
        args: ["-fn", image],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      assert.ok(fsck.success, `e2fsck found problems:\n${new TextDecoder().decode(fsck.stdout)}`);
      console.error(
        `tests/linux/boot_test.ts: booted, used and powered off in ${result.seconds.toFixed(1)} s`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "lab boot --linux --mine runs Linux on every lesson's reference binding",
  ignore: missing !== null,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "virtio-lab-linux-mine-" });
    try {
      const workspace = `${dir}/workspace`;
      for (const entry of Deno.readDirSync(`${REPO}lessons`)) {
        if (!entry.isDirectory || !/^\d\d-/.test(entry.name)) continue;
        await Deno.mkdir(`${workspace}/${entry.name}`, { recursive: true });
        await Deno.writeTextFile(
          `${workspace}/${entry.name}/exercise.ts`,
          `export * from "${REPO}lessons/${entry.name}/reference.ts";\n`,
        );
      }
      const env = { VIRTIO_LAB_WORKSPACE: workspace };
      const check = await new Deno.Command(Deno.execPath(), {
        // A generous time limit per lesson: the suite runs alongside.
        args: ["run", ...LAB_FLAGS, "cli/main.ts", "check", "--all", "--timeout", "120"],
        cwd: REPO,
        env: { NO_COLOR: "1", ...env },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(check.code, 0, new TextDecoder().decode(check.stdout).slice(-3000));
      const image = await helloImage(dir, "hello from the learner's machine\n");
      const result = await bootAndUse(image, dir, ["--mine"], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Your code in this machine, part by part/);
      // Every device-side part is the learner's: those serve Linux.
      for (const layer of ["transport", "virtqueue", "blk", "console"]) {
        assert.match(result.stderr, new RegExp(`${layer}\\.device +(\\d+)/\\1 +all yours`));
      }
      assert.match(result.stderr, /Linux is the driver: your device-side parts serve it/);
      const screen = result.console.replace(/\r/g, "");
      assert.match(screen, /hello from the learner's machine\n/);
      assert.match(screen, /ls \/sys\/bus\/virtio\/devices\nvirtio0 +virtio1\n/);
      assert.equal(
        await run("debugfs", ["-R", "cat /from-linux.txt", image]),
        "written by Linux through virtio-blk\n",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a register file that breaks a rule shows as Linux's driver failing to probe, " +
    "and the conformance log names the rule",
  ignore: missing !== null,
  sanitizeResources: false,
  fn: async () => {
    const assets = await ensureLinuxAssets({ say: () => {} });
    const { createLinuxMachine } = await import("../../linux/machine.ts");
    const { checkRegisterAccess } = await import("../../transport/mmio_registers.ts");
    const { GUEST_STATE_FILE } = await import("../../cli/boot_linux.ts");
    const machine = await createLinuxMachine({
      images: {
        bios: await Deno.readFile(assets.bios),
        kernel: await Deno.readFile(assets.kernel),
        initramfs: await Deno.readFile(assets.initramfs),
      },
      // A learner's mistake: the access width passed on in bits, not bytes.
      parts: {
        transport: {
          device: {
            checkRegisterAccess: (offset, width, kind, version) =>
              checkRegisterAccess(offset, width * 8, kind, version),
          },
        },
      },
      snapshotFile: `${assets.dir}/${GUEST_STATE_FILE}`,
      onError: () => {},
    });
    try {
      machine.start();
      const how = await Promise.race([
        machine.exited,
        new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), BUDGET_MS)),
      ]);
      assert.deepEqual(how, { kind: "poweroff" }, machine.serialTail().join("\n"));
      const serial = machine.serialTail().join("\n");
      assert.match(serial, /virtio-mmio LNRO0005:00: Wrong magic value 0x00000000!/);
      assert.match(serial, /no \/dev\/hvc0: virtio_console did not bind/);
      assert.equal(machine.console.device.stats.bytesOut, 0);
      const first = machine.log.entries[0];
      assert.equal(first?.id, "4.2.2.2/2", JSON.stringify(first));
      assert.match(first.message, /MagicValue/);
    } finally {
      await machine.close();
    }
  },
});
