// The registry of replaceable parts (parts.ts): unique names, lookups, and the
// shapes createMachine takes.
import assert from "node:assert/strict";
import {
  checkMachineParts,
  findPart,
  machineParts,
  PartError,
  PARTS,
  REFERENCE_PARTS,
  replacedParts,
  resolveParts,
} from "../parts.ts";
import { loadCourse } from "../course/manifest.ts";
import { defaultCourseRoot } from "../course/paths.ts";
import { createMachine } from "../machine.ts";
import { probeWindow } from "../transport/mmio_driver.ts";

Deno.test("every part has a unique key and a unique name, and a reference function", () => {
  assert.ok(PARTS.length > 0);
  assert.equal(new Set(PARTS.map((p) => p.key)).size, PARTS.length);
  assert.equal(new Set(PARTS.map((p) => p.name)).size, PARTS.length);
  for (const p of PARTS) {
    assert.equal(p.key, `${p.layer}.${p.side}.${p.name}`);
    assert.equal(typeof p.reference, "function", p.key);
    const table = (REFERENCE_PARTS as unknown as Record<string, Record<string, object>>)[p.layer][
      p.side
    ];
    assert.equal((table as Record<string, unknown>)[p.name], p.reference, p.key);
  }
});

Deno.test("findPart finds by key and by bare name, and nothing else", () => {
  assert.equal(findPart("transport.driver.probeWindow")?.reference, probeWindow);
  assert.equal(findPart("probeWindow")?.key, "transport.driver.probeWindow");
  assert.equal(findPart("transport.device.probeWindow"), undefined);
  assert.equal(findPart("probewindow"), undefined);
  assert.equal(findPart(""), undefined);
});

Deno.test("machineParts shapes replacements like the registry and refuses what it cannot use", () => {
  const mine = () => ({ kind: "empty" as const });
  const parts = machineParts([["transport.driver.probeWindow", mine]]);
  assert.equal(parts.transport?.driver?.probeWindow, mine);
  assert.deepEqual(replacedParts(parts), ["transport.driver.probeWindow"]);
  assert.equal(resolveParts(parts, "transport", "driver").probeWindow, mine);
  assert.equal(
    resolveParts(parts, "transport", "driver").failDevice,
    REFERENCE_PARTS.transport.driver.failDevice,
  );
  assert.equal(resolveParts(undefined, "transport", "device"), REFERENCE_PARTS.transport.device);
  assert.throws(() => machineParts([["transport.driver.nope", mine]]), PartError);
  assert.throws(() => machineParts([["probeWindow", 42]]), /not a function/);
  assert.deepEqual(replacedParts(undefined), []);
});

Deno.test("every lesson's parts are registry keys the lesson's exercise exports", () => {
  const course = loadCourse(defaultCourseRoot());
  for (const lesson of course.lessons) {
    for (const key of lesson.parts) {
      const part = findPart(key);
      assert.ok(part && part.key === key, `${lesson.dir}: ${key} is in the registry`);
      assert.ok(lesson.exports.includes(part.name), `${lesson.dir}: ${part.name} is exported`);
    }
  }
});

Deno.test("the lessons teach every part, and the capstone puts every part taught up to it in the machine", () => {
  const course = loadCourse(defaultCourseRoot());
  const taught = new Set(course.lessons.flatMap((l) => l.parts));
  const at = course.lessons.findIndex((l) => l.id === "capstone");
  assert.ok(at >= 0, "the course has a capstone");
  const capstone = course.lessons[at];
  const before = new Set(course.lessons.slice(0, at + 1).flatMap((l) => l.parts));
  for (const part of PARTS) {
    assert.ok(taught.has(part.key), `${part.key} is taught by a lesson`);
    if (before.has(part.key)) {
      assert.ok(capstone.parts.includes(part.key), `${part.key} runs in the capstone's machine`);
    }
  }
});

Deno.test("the machine runs a replaced part: a probe that sees only empty slots binds nothing", async () => {
  let calls = 0;
  const machine = await createMachine({
    parts: machineParts([["probeWindow", () => (calls++, { kind: "empty" as const })]]),
  });
  try {
    assert.equal(calls, 3, "one probe per window");
    assert.equal(machine.blk.driver, null);
    assert.ok(machine.devices().every((d) => d.state === "empty"));
  } finally {
    await machine.close();
  }
});

Deno.test("createMachine refuses parts the registry does not have, naming them", async () => {
  const probe = () => ({ kind: "empty" as const });
  const bad: [unknown, RegExp][] = [
    [{ device: { probeWindow: probe } }, /parts\.device: no such layer/],
    [{ transport: { guest: {} } }, /parts\.transport\.guest: no such side/],
    [
      { transport: { device: { probeWindow: probe } } },
      /transport\.device\.probeWindow: no such part \(probeWindow is transport\.driver\.probeWindow\)/,
    ],
    [{ transport: { driver: { probeWindow: 1 } } }, /is number, not a function/],
  ];
  for (const [parts, message] of bad) {
    assert.throws(() => checkMachineParts(parts as never), message);
    await assert.rejects(() => createMachine({ parts: parts as never }), PartError);
  }
  checkMachineParts({ transport: { driver: { probeWindow: probe } }, core: {} });
});
