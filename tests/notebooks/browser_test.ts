/**
 * A lesson notebook in a live Jupyter server, as a learner's browser shows
 * it: Debian's `jupyter-notebook` on 127.0.0.1 with a token, headless
 * Chromium driven by puppeteer-core, "run all cells", then the rich displays
 * are looked for in the page (the register window, the conformance log, the
 * grade report with its verdict first and its failures folded), no cell
 * shows an error, and a screenshot is kept in `.tmp/artifacts/` (git-ignored).
 *
 * Needs `chromium` and `jupyter-notebook` (Debian packages). Without them
 * the test is skipped with a message, except under CI (`CI` set), where
 * `.ci/run` installs them and the test fails if they are missing.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { loadCourse } from "../../course/manifest.ts";
import { copyNotebookToWorkspace } from "../../course/notebooks.ts";
import { Workspace } from "../../course/workspace.ts";
import { removeDir, REPO } from "../course/helpers.ts";

const CHROMIUM = Deno.env.get("VIRTIO_LAB_CHROMIUM") ?? "/usr/bin/chromium";
const JUPYTER = "jupyter";
const ARTIFACTS = path.join(REPO, ".tmp", "artifacts");
const inCI = Boolean(Deno.env.get("CI"));

async function missing(): Promise<string | null> {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    return `${CHROMIUM} not found`;
  }
  try {
    const out = await new Deno.Command(JUPYTER, {
      args: ["notebook", "--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? null : "jupyter notebook --version failed";
  } catch {
    return "jupyter is not installed";
  }
}

const problem = await missing();
const HOW = "apt-get install -y jupyter-notebook chromium";
if (problem && !inCI) {
  console.warn(`browser_test: SKIPPING the notebook browser test: ${problem}; ${HOW} to run it`);
}

/** A free TCP port on 127.0.0.1 (the server binds it right after). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A kernelspec named "deno" for this Deno, colour off, in a folder of its own. */
function kernelspecDir(root: string): string {
  const dir = path.join(root, "jupyter");
  Deno.mkdirSync(path.join(dir, "kernels", "deno"), { recursive: true });
  Deno.writeTextFileSync(
    path.join(dir, "kernels", "deno", "kernel.json"),
    JSON.stringify({
      argv: [Deno.execPath(), "jupyter", "--kernel", "--conn", "{connection_file}"],
      display_name: "Deno",
      language: "typescript",
      env: { NO_COLOR: "1" },
    }),
  );
  return dir;
}

async function waitForServer(url: string, server: Deno.ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  server.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error("jupyter notebook exited before it served");
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`jupyter notebook did not answer ${url} within ${timeoutMs / 1000} s`);
}

/** Runs every cell through the notebook UI and waits until each has its execution count. */
async function runAllCells(page: Page, timeoutMs: number): Promise<void> {
  await page.waitForFunction(
    () => {
      // deno-lint-ignore no-explicit-any
      const nb = (globalThis as any).Jupyter?.notebook;
      return nb?.kernel?.info_reply?.status === "ok";
    },
    { timeout: timeoutMs },
  );
  await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    (globalThis as any).Jupyter.notebook.execute_all_cells();
  });
  await page.waitForFunction(
    () => {
      // deno-lint-ignore no-explicit-any
      const nb = (globalThis as any).Jupyter.notebook;
      // deno-lint-ignore no-explicit-any
      const code = nb.get_cells().filter((c: any) => c.cell_type === "code");
      // deno-lint-ignore no-explicit-any
      return code.every((c: any) => typeof c.input_prompt_number === "number");
    },
    { timeout: timeoutMs, polling: 250 },
  );
}

Deno.test({
  name: "a lesson notebook runs all its cells in Jupyter in a browser and its rich displays render",
  ignore: problem !== null && !inCI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (problem) assert.fail(`CI must run the browser test, but ${problem}; ${HOW}`);
    const root = await Deno.makeTempDir({ prefix: "virtio-lab-browser-" });
    const course = loadCourse(REPO);
    const lesson = course.lessons[0];
    const workspace = await Workspace.open(course, path.join(root, "workspace"));
    const copy = await copyNotebookToWorkspace(course, workspace, lesson);
    const token = crypto.randomUUID();
    const port = freePort();
    const server = new Deno.Command(JUPYTER, {
      args: [
        "notebook",
        "--no-browser",
        "--ip=127.0.0.1",
        `--port=${port}`,
        "--port-retries=0",
        `--NotebookApp.token=${token}`,
        `--notebook-dir=${workspace.dir}`,
        // CI containers run as root, which the server refuses without this
        // flag (it changes nothing for other users).
        "--allow-root",
      ],
      env: {
        JUPYTER_PATH: kernelspecDir(root),
        JUPYTER_CONFIG_DIR: path.join(root, "config"),
        JUPYTER_RUNTIME_DIR: path.join(root, "runtime"),
        JUPYTER_DATA_DIR: path.join(root, "data"),
        VIRTIO_LAB_WORKSPACE: workspace.dir,
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let serverLog = "";
    const logDone = (async () => {
      for await (const chunk of server.stderr.pipeThrough(new TextDecoderStream())) {
        serverLog += chunk;
      }
    })();
    let browser: Browser | undefined;
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForServer(`${base}/api/status?token=${token}`, server, 60_000);
      browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
        ],
      });
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      const relative = path.relative(workspace.dir, copy.file).split(path.sep).join("/");
      await page.goto(`${base}/notebooks/${relative}?token=${token}`, {
        waitUntil: "domcontentloaded",
      });
      await runAllCells(page, 120_000);

      const errors = await page.$$eval(
        ".output_area .output_error",
        (els) => els.map((e) => e.textContent ?? ""),
      );
      assert.deepEqual(errors, [], "no cell shows an error");
      const kinds = await page.$$eval(
        ".output_area [data-virtio-lab]",
        (els) => els.map((e) => e.getAttribute("data-virtio-lab")),
      );
      const displays = [
        "register-window",
        "conformance-log",
        "grade-report",
        "grade-checks",
        "not-written",
      ];
      for (const kind of displays) {
        assert.ok(kinds.includes(kind), `the ${kind} display is in the page (found: ${kinds})`);
      }
      // The register window is left-aligned as the browser lays it out.
      const aligns = await page.$$eval(
        '[data-virtio-lab="register-window"] td, [data-virtio-lab="register-window"] th',
        (cells) => {
          // The page's window (this function runs in the browser).
          // deno-lint-ignore no-explicit-any
          const style = (globalThis as any).getComputedStyle as (
            e: unknown,
          ) => { textAlign: string };
          return [...new Set(cells.map((c) => style(c).textAlign))];
        },
      );
      assert.deepEqual(aligns, ["left"]);
      // The grade report: the verdict comes first, the failures are folded, the
      // call to type is the notebook's.
      const report = await page.$eval('[data-virtio-lab="grade-report"]', (el) => ({
        first: el.firstElementChild?.getAttribute("data-virtio-lab"),
        verdict: el.querySelector('[data-virtio-lab="verdict"]')?.textContent ?? "",
        folded: el.querySelectorAll('details[data-virtio-lab="failure"]').length,
        text: (el as unknown as { innerText: string }).innerText,
      }));
      assert.equal(report.first, "verdict");
      assert.match(report.verdict, /^✘ FAIL lesson 1: /, "the pristine stub fails");
      assert.ok(report.folded > 0, "failure details are in <details>");
      assert.match(report.text, /hint\(LESSON\)/);
      assert.doesNotMatch(report.text, /deno task lab/);

      // Screenshots: the notebook scrolls inside the page, so each display is
      // shot on its own (scrolled into view), and the grade report in context.
      Deno.mkdirSync(ARTIFACTS, { recursive: true });
      // The notebook's sticky header would cover the top of a display scrolled into view.
      await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        const header = (globalThis as any).document.getElementById("header");
        if (header) header.style.display = "none";
      });
      await page.setViewport({ width: 1280, height: 2400 }); // room for a whole report
      const shots: string[] = [];
      for (const kind of ["register-window", "grade-report"]) {
        const element = await page.$(`.output_area [data-virtio-lab="${kind}"]`);
        assert.ok(element, kind);
        const shot = path.join(ARTIFACTS, `${lesson.dir}.${kind}.png`);
        await element.screenshot({ path: shot as `${string}.png` });
        shots.push(shot);
      }
      const whole = path.join(ARTIFACTS, `${lesson.dir}.png`);
      await page.screenshot({ path: whole as `${string}.png` });
      shots.push(whole);
      for (const shot of shots) {
        assert.ok(Deno.statSync(shot).size > 5_000, `${shot} has content`);
      }
      console.log(`browser_test: screenshots in ${path.relative(REPO, ARTIFACTS)}/`);
    } catch (error) {
      console.error(`browser_test: jupyter notebook's log:\n${serverLog.slice(-4000)}`);
      throw error;
    } finally {
      await browser?.close();
      try {
        server.kill("SIGTERM");
      } catch {
        // already gone
      }
      await server.status;
      await logDone.catch(() => {});
      await removeDir(root);
    }
  },
});
