/**
 * The Unix socket console cases live in `_console_socket_cases.ts`. Deno
 * asks for net permission (`unix:<path>`) to listen on or connect to a Unix
 * socket; when this run has it, the cases are registered here directly,
 * otherwise one test runs them in a child `deno test` that is granted it.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const net = await Deno.permissions.query({ name: "net" });

if (net.state === "granted") {
  await import("./_console_socket_cases.ts");
} else {
  Deno.test("console socket: cases run in a child deno test granted --allow-net", async () => {
    const cases = fileURLToPath(new URL("./_console_socket_cases.ts", import.meta.url));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-env",
        "--allow-net",
        cases,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    });
    const { code, stdout, stderr } = await child.output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    assert.equal(code, 0, output);
    const passed = output.match(/ok \| (\d+) passed \| 0 failed/);
    assert.ok(passed && Number(passed[1]) >= 3, output);
  });
}
