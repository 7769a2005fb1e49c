/**
 * `deno install -g` of the `lab` command from a clone, exactly as the README
 * says (the command is read from README.md), into a temporary root: the
 * installed `lab` runs from another folder and finds its course.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { removeDir, REPO } from "../course/helpers.ts";

const README = Deno.readTextFileSync(path.join(REPO, "README.md"));
const INSTALL = /^deno install -g .*-n lab .*cli\/main\.ts$/m.exec(README)?.[0];

Deno.test("the README's deno install -g command gives a working lab", async () => {
  assert.ok(INSTALL, "README.md shows the deno install -g command for a clone");
  const tmp = await Deno.makeTempDir({ prefix: "virtio-lab-install-" });
  try {
    const run = async (cmd: string, args: string[], cwd: string) => {
      const out = await new Deno.Command(cmd, {
        args,
        cwd,
        env: {
          NO_COLOR: "1",
          DENO_INSTALL_ROOT: path.join(tmp, "root"),
          VIRTIO_LAB_WORKSPACE: path.join(tmp, "workspace"),
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decode = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
    };
    const [, ...args] = INSTALL.split(/\s+/);
    const installed = await run(Deno.execPath(), args, REPO);
    assert.equal(installed.code, 0, installed.stderr);
    const lab = path.join(tmp, "root", "bin", "lab");
    const denoConfig = JSON.parse(Deno.readTextFileSync(path.join(REPO, "deno.json")));
    const version = await run(lab, ["--version"], tmp);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), denoConfig.version);
    const list = await run(lab, ["list"], tmp);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /│ +1 │ The MMIO window/);
    assert.ok(Deno.statSync(path.join(tmp, "workspace", "01-mmio-window", "exercise.ts")).isFile);
  } finally {
    await removeDir(tmp);
  }
});
