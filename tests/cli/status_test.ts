// The progress table's short cells: what a lesson builds, and its chapters.
import assert from "node:assert/strict";
import { buildsCell, chaptersCell } from "../../cli/lesson/status.ts";
import { loadCourse } from "../../course/manifest.ts";
import { defaultCourseRoot } from "../../course/paths.ts";

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
