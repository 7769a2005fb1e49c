// The progress table's short cells: what a lesson builds, and its chapters.
import assert from "node:assert/strict";
import { buildsCell, chaptersCell, nextSteps } from "../../cli/lesson/status.ts";
import { loadCourse } from "../../course/manifest.ts";
import { defaultCourseRoot } from "../../course/paths.ts";
import { Workspace } from "../../course/workspace.ts";

const course = loadCourse(defaultCourseRoot());
const lesson = (id: string) => course.lessons.find((l) => l.id === id)!;

Deno.test("buildsCell names the machine's layers and sides a lesson's parts replace", () => {
  assert.equal(buildsCell(lesson("mmio-window")), "mmio dev+drv");
  assert.equal(buildsCell(lesson("virtqueue-layout")), "mmio dev, rings drv");
  assert.equal(buildsCell(lesson("device-pop")), "rings dev");
  assert.equal(buildsCell(lesson("interrupts")), "mmio rings dev+drv");
  assert.equal(buildsCell(lesson("console")), "console dev+drv");
  assert.equal(buildsCell(lesson("capstone")), "the whole machine");
});

Deno.test("chaptersCell: two levels, once each, in spec order; a chapter covers its sections", () => {
  assert.equal(chaptersCell(["4.2.1", "4.2.2", "4.2.3.1.1"]), "§4.2");
  assert.equal(chaptersCell(["4.2.2", "2.7", "2.7.10.1"]), "§2.7 §4.2");
  assert.equal(chaptersCell(["2.2", "6", "6.1", "6.2", "3.1.1"]), "§2.2 §3.1 §6");
  assert.equal(chaptersCell(["2.7.10", "2.7.2"]), "§2.7");
  assert.equal(chaptersCell([]), "");
});

Deno.test("the Next steps wrap at word boundaries to 60, 80 and 120 columns, descriptions hanging", () => {
  const workspace = new Workspace(course, "/home/learner/virtio-lab/workspace");
  const ctx = { course, workspace };
  const words = (text: string) => text.split(/\s+/).filter(Boolean);
  const unwrapped = nextSteps(ctx, lesson("mmio-window"), false, 1000, false);
  for (const width of [60, 80, 120]) {
    const text = nextSteps(ctx, lesson("mmio-window"), false, width, false);
    const lines = text.split("\n");
    for (const line of lines) assert.ok(line.length <= width, `${line.length} > ${width}: ${line}`);
    assert.deepEqual(words(text), words(unwrapped), `no word cut or lost at ${width}`);
    // Two columns where they fit, else the description under its command; either way its
    // continuation lines start under its first word.
    const at = lines.findIndex((l) => l.includes("grade it"));
    const column = lines[at].indexOf("grade it");
    assert.ok(
      lines[at].startsWith("  deno task lab check 1") ||
        lines[at - 1] === "  deno task lab check 1",
    );
    for (const line of lines.slice(at + 1)) {
      if (line.startsWith("  deno task") || line.startsWith("  edit")) break;
      assert.equal(line.search(/\S/), column, line);
    }
  }
  const linked = nextSteps(ctx, lesson("mmio-window"), true, 80, true);
  assert.ok(
    linked.includes(
      "\x1b]8;;file:///home/learner/virtio-lab/workspace/01-mmio-window/exercise.ts\x07" +
        "workspace/01-mmio-window/exercise.ts\x1b]8;;\x07",
    ),
  );
});
