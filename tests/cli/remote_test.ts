/**
 * The package loaded from a URL, as `deno install -g jsr:...` or `deno run
 * https://...` load it: a local HTTP server serves the files `deno publish`
 * would publish, in JSR's layout (`/@virtio-lab/virtio-lab/0.1.0/...` and
 * `0.1.0_meta.json` with each file's SHA-256), and `lab` is run from there.
 * It copies the course into its cache once, checks every file, and runs the
 * copy: lessons list, a check grades in its sandbox, the workspace is
 * outside the cache.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { courseCacheDir, fetchCourse } from "../../course/paths.ts";
import { removeDir, REPO } from "../course/helpers.ts";

const PACKAGE_PATH = "/@virtio-lab/virtio-lab/0.1.0";

/** The files `deno publish` would publish, relative to the repository. */
async function publishedFiles(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, text);
  const prefix = new URL(`file://${REPO}`).href.replace(/\/?$/, "/");
  return [...text.matchAll(/^\s+(file:\/\/\S+) \(/gm)].map((m) => m[1].slice(prefix.length));
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A JSR-like registry for the repository's published files. */
async function serve(files: string[], tamper?: string) {
  const manifest: Record<string, { size: number; checksum: string }> = {};
  for (const f of files) {
    const bytes = Deno.readFileSync(path.join(REPO, f));
    manifest[`/${f}`] = { size: bytes.length, checksum: `sha256-${await sha256(bytes)}` };
  }
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const name = decodeURIComponent(new URL(request.url).pathname);
    requests.push(name);
    if (name === `${PACKAGE_PATH}_meta.json`) return Response.json({ manifest });
    if (!name.startsWith(`${PACKAGE_PATH}/`)) return new Response("not found", { status: 404 });
    const file = name.slice(PACKAGE_PATH.length + 1);
    if (!(`/${file}` in manifest)) return new Response("not found", { status: 404 });
    let body: Uint8Array = Deno.readFileSync(path.join(REPO, file));
    if (file === tamper) body = new TextEncoder().encode("// not what was published\n");
    const type = file.endsWith(".json")
      ? "application/json"
      : file.endsWith(".ts")
      ? "application/typescript"
      : "text/plain";
    return new Response(body as Uint8Array<ArrayBuffer>, { headers: { "content-type": type } });
  });
  const { port } = server.addr as Deno.NetAddr;
  return { server, requests, port, root: new URL(`http://127.0.0.1:${port}${PACKAGE_PATH}/`) };
}

const files = await publishedFiles();

Deno.test("the published file list has no tests, CI scripts, benchmarks or fixtures, and has the CLI", () => {
  assert.ok(files.length > 100, `${files.length} files`);
  // course/deno_test.ts is the engine's test-runner adapter (what a
  // workspace's exercise_test.ts imports), not a test of the project.
  const dev = files.filter((f) =>
    /^(tests|bench|\.ci)\//.test(f) || /fixtures\//.test(f) || /^tools\/.*\.ts$/.test(f) ||
    (/_test\.ts$/.test(f) && f !== "course/deno_test.ts")
  );
  assert.deepEqual(dev, []);
  for (
    const needed of ["mod.ts", "cli/main.ts", "deno.json", "lessons/01-mmio-window/lesson.json"]
  ) {
    assert.ok(files.includes(needed), needed);
  }
  assert.ok(files.some((f) => f.startsWith("notebooks/")), "the notebooks are published");
});

Deno.test({
  name: "lab loaded from a URL copies the course once, checks it, and runs the copy",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "virtio-lab-remote-" });
    const { server, requests, port, root } = await serve(files);
    try {
      const run = async (args: string[]) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            `--allow-import=127.0.0.1:${port}`,
            `--import-map=${new URL("deno.json", root).href}`,
            "--allow-read",
            "--allow-write",
            "--allow-env",
            "--allow-run",
            "--allow-net",
            "--allow-sys=hostname",
            new URL("cli/main.ts", root).href,
            ...args,
          ],
          cwd: tmp,
          env: {
            NO_COLOR: "1",
            HOME: path.join(tmp, "home"),
            VIRTIO_LAB_CACHE: path.join(tmp, "cache"),
            VIRTIO_LAB_WORKSPACE: "",
            VIRTIO_LAB_COURSE: "",
            DENO_DIR: Deno.env.get("DENO_DIR") ??
              path.join(Deno.env.get("HOME") ?? tmp, ".cache", "deno"),
          },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const decode = (b: Uint8Array) => new TextDecoder().decode(b);
        return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
      };
      const list = await run(["list"]);
      assert.equal(list.code, 0, list.stderr);
      const copy = courseCacheDir(root, path.join(tmp, "cache"));
      assert.match(
        list.stderr,
        new RegExp(`copying the course \\(${files.length} files\\) from ${root.href}`),
      );
      assert.match(list.stdout, /│ +1 │ The MMIO window/);
      assert.ok(Deno.statSync(path.join(copy, "lessons", "01-mmio-window", "lesson.json")).isFile);
      const workspace = path.join(tmp, "home", "virtio-lab-workspace");
      assert.ok(
        Deno.statSync(path.join(workspace, "01-mmio-window", "exercise.ts")).isFile,
        "the workspace is in the home folder, not in the cache",
      );
      // A second run copies nothing and grades lesson 1 from the copy, in its sandbox.
      const fetchedBefore = requests.filter((r) => r.startsWith(`${PACKAGE_PATH}/lessons/`)).length;
      const check = await run(["check", "1"]);
      assert.doesNotMatch(check.stderr, /copying the course/);
      assert.equal(
        requests.filter((r) => r.startsWith(`${PACKAGE_PATH}/lessons/`)).length,
        fetchedBefore,
        "no course file is fetched again",
      );
      assert.equal(check.code, 1, "the pristine stub fails its checks");
      assert.match(check.stdout, /FAIL lesson 1: \d+ of \d+ checks failed/);
    } finally {
      await server.shutdown();
      await removeDir(tmp);
    }
  },
});

Deno.test({
  name:
    "a course file that does not match its checksum stops the copy, which is not marked complete",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "virtio-lab-remote-" });
    const { server, root } = await serve(files, "lessons/01-mmio-window/grader.ts");
    try {
      const dir = path.join(tmp, "copy");
      const lines: string[] = [];
      await assert.rejects(
        fetchCourse(root, dir, { log: (l) => lines.push(l) }),
        /lessons\/01-mmio-window\/grader\.ts does not match its checksum/,
      );
      assert.equal(lines.length, 1);
      assert.throws(
        () => Deno.statSync(path.join(dir, ".virtio-lab-copy.json")),
        Deno.errors.NotFound,
      );
      await assert.rejects(
        fetchCourse(
          new URL(`http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/nothing/1.0/`),
          dir,
        ),
        /Cannot fetch .*nothing\/1\.0_meta\.json: HTTP 404/,
      );
    } finally {
      await server.shutdown();
      await removeDir(tmp);
    }
  },
});

Deno.test("courseCacheDir keeps host and path, and nothing can climb out of the cache", () => {
  assert.equal(
    courseCacheDir(new URL("https://jsr.io/@virtio-lab/virtio-lab/0.1.0/"), "/c"),
    "/c/jsr.io/@virtio-lab/virtio-lab/0.1.0",
  );
  assert.equal(
    courseCacheDir(new URL("http://127.0.0.1:8000/a/%2e%2e/b%20c/"), "/c"),
    "/c/127.0.0.1_8000/b_c",
  );
});
