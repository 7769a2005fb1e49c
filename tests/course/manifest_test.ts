import assert from "node:assert/strict";
import * as path from "node:path";
import { findLesson, loadCourse, parseHints, parseLessonJson } from "../../course/manifest.ts";
import { CourseFormatError, LessonNotFoundError } from "../../course/errors.ts";
import { FIXTURE_ROOT, fixtureCourse, removeDir } from "./helpers.ts";

Deno.test("loadCourse reads the fixture course in manifest order", () => {
  const course = fixtureCourse();
  assert.deepEqual(course.lessons.map((l) => [l.number, l.id, l.dir]), [
    [1, "feature-words", "01-feature-words"],
    [2, "status-names", "02-status-names"],
  ]);
  const first = course.lessons[0];
  assert.equal(first.title, "Feature words");
  assert.deepEqual(first.requirements, ["4.2.2.2/7", "2.2.1/1"]);
  assert.equal(first.hints.length, 3);
  assert.match(first.hints[1], /unsigned|signed/);
  assert.equal(
    first.paths.notebook,
    path.join(FIXTURE_ROOT, "notebooks", "01-feature-words.ipynb"),
  );
});

Deno.test("findLesson accepts a number, a padded number, an id and a folder name", () => {
  const course = fixtureCourse();
  for (const ref of ["2", "02", "status-names", "02-status-names", 2]) {
    assert.equal(findLesson(course, ref).id, "status-names", String(ref));
  }
});

Deno.test("findLesson refuses an unknown lesson in one line listing the valid ids", () => {
  const course = fixtureCourse();
  for (const ref of ["0", "3", "nope", "01-nope"]) {
    assert.throws(() => findLesson(course, ref), (e: unknown) => {
      assert.ok(e instanceof LessonNotFoundError);
      assert.equal(e.message, `No lesson "${ref}" (valid: 1-2 or feature-words, status-names)`);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

async function courseWith(
  manifest: unknown,
  lessonJson?: (j: Record<string, unknown>) => void,
): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "virtio-lab-course-" });
  await Deno.mkdir(path.join(root, "lessons"), { recursive: true });
  for (const dir of ["01-feature-words", "02-status-names"]) {
    const from = path.join(FIXTURE_ROOT, "lessons", dir);
    const to = path.join(root, "lessons", dir);
    await Deno.mkdir(to);
    for await (const entry of Deno.readDir(from)) {
      await Deno.copyFile(path.join(from, entry.name), path.join(to, entry.name));
    }
    if (lessonJson) {
      const file = path.join(to, "lesson.json");
      const json = JSON.parse(await Deno.readTextFile(file));
      lessonJson(json);
      await Deno.writeTextFile(file, JSON.stringify(json));
    }
  }
  await Deno.writeTextFile(path.join(root, "lessons", "manifest.json"), JSON.stringify(manifest));
  return root;
}

Deno.test("loadCourse refuses a manifest from a newer engine, duplicates and bad ids", async () => {
  const cases: [unknown, RegExp][] = [
    [{ version: 2, lessons: [] }, /manifest version 2 is newer than this engine reads \(1\)/],
    [{ lessons: [] }, /"version" must be 1/],
    [{
      version: 1,
      lessons: [{ id: "a", dir: "01-feature-words" }, { id: "a", dir: "02-status-names" }],
    }, /duplicate id "a"/],
    [
      { version: 1, lessons: [{ id: "Bad Id", dir: "01-feature-words" }] },
      /must be a lowercase slug/,
    ],
    [
      { version: 1, lessons: [{ id: "x", dir: "feature-words" }] },
      /must look like "01-mmio-window"/,
    ],
    [
      { version: 1, lessons: [{ id: "x", dir: "03-missing" }] },
      /lessons\/03-missing\/lesson.md: is missing/,
    ],
  ];
  for (const [manifest, pattern] of cases) {
    const root = await courseWith(manifest);
    try {
      assert.throws(
        () => loadCourse(root),
        (e: unknown) => e instanceof CourseFormatError && pattern.test(e.message),
      );
    } finally {
      await removeDir(root);
    }
  }
});

Deno.test("loadCourse accepts reordering: numbers follow the manifest, ids stay", async () => {
  const root = await courseWith({
    version: 1,
    lessons: [{ id: "status-names", dir: "02-status-names" }, {
      id: "feature-words",
      dir: "01-feature-words",
    }],
  });
  try {
    const course = loadCourse(root);
    assert.equal(findLesson(course, 1).id, "status-names");
    assert.equal(findLesson(course, "feature-words").number, 2);
  } finally {
    await removeDir(root);
  }
});

Deno.test("lesson.json: an unknown requirement id is refused when the course loads", async () => {
  const root = await courseWith(
    { version: 1, lessons: [{ id: "feature-words", dir: "01-feature-words" }] },
    (json) => (json.requirements = ["4.2.2.2/999"]),
  );
  try {
    assert.throws(
      () => loadCourse(root),
      /requirement "4.2.2.2\/999" is not in conformance\/requirements.ts/,
    );
  } finally {
    await removeDir(root);
  }
});

Deno.test("parseLessonJson names the field that is wrong", () => {
  const good = JSON.parse(
    Deno.readTextFileSync(path.join(FIXTURE_ROOT, "lessons/01-feature-words/lesson.json")),
  );
  assert.equal(parseLessonJson(good, "x").title, "Feature words");
  const broken: [Record<string, unknown>, RegExp][] = [
    [{ ...good, title: "" }, /"title" must be a non-empty string/],
    [{ ...good, objectives: [] }, /"objectives" must not be empty/],
    [{ ...good, sections: ["§4.2"] }, /section "§4.2" must be a spec section number/],
    [{ ...good, minutes: 0 }, /"minutes" must be a positive number/],
    [
      { ...good, solution: [{ file: "lessons/01/reference.ts", symbols: ["x"] }] },
      /must be a library file/,
    ],
    [{ ...good, solution: [{ file: "virtio/features.ts", symbols: [] }] }, /solution\[0\] must be/],
    [{ ...good, exports: "featureWord" }, /"exports" must be an array/],
  ];
  for (const [json, pattern] of broken) {
    assert.throws(() => parseLessonJson(json, "lesson.json"), pattern);
  }
});

Deno.test("parseHints splits '## Hint N' sections and checks their numbering and count", () => {
  assert.deepEqual(parseHints("# Title\nintro\n## Hint 1\none\n\n## Hint 2\ntwo\n", "h"), [
    "one",
    "two",
  ]);
  assert.throws(() => parseHints("## Hint 1\none\n", "h"), /needs 2 to 4/);
  assert.throws(
    () => parseHints("## Hint 1\na\n## Hint 3\nb\n", "h"),
    /expected "## Hint 2", found "## Hint 3"/,
  );
  assert.throws(() => parseHints("## Hint 1\n\n## Hint 2\nb\n", "h"), /hint 1 is empty/);
  const five = [1, 2, 3, 4, 5].map((n) => `## Hint ${n}\nx`).join("\n");
  assert.throws(() => parseHints(five, "h"), /found 5/);
});

Deno.test("the real manifest loads (and lists its lessons in order)", () => {
  const course = loadCourse();
  assert.deepEqual(course.lessons.map((l) => l.number), course.lessons.map((_, i) => i + 1));
});

Deno.test("manifest features: withheld feature names and the lessons that unlock them are checked", async () => {
  const lessons = [{ id: "feature-words", dir: "01-feature-words" }];
  const cases: [unknown, RegExp][] = [
    [{ version: 1, features: {}, lessons }, /"features" must be an array/],
    [
      { version: 1, features: [{ name: "VIRTIO_F_NOPE", unlockedBy: null }], lessons },
      /"VIRTIO_F_NOPE" is not a feature bit name/,
    ],
    [
      { version: 1, features: [{ name: "VIRTIO_F_EVENT_IDX", unlockedBy: "event-idx" }], lessons },
      /"unlockedBy" must be the id of a lesson of the manifest, or null/,
    ],
    [
      {
        version: 1,
        features: [
          { name: "VIRTIO_F_EVENT_IDX", unlockedBy: null },
          { name: "VIRTIO_F_EVENT_IDX", unlockedBy: null },
        ],
        lessons,
      },
      /"VIRTIO_F_EVENT_IDX" twice/,
    ],
  ];
  for (const [manifest, message] of cases) {
    const root = await courseWith(manifest);
    try {
      assert.throws(() => loadCourse(root), message);
    } finally {
      await removeDir(root);
    }
  }
  const root = await courseWith({
    version: 1,
    features: [{ name: "VIRTIO_F_EVENT_IDX", unlockedBy: "feature-words" }],
    lessons,
  });
  try {
    assert.deepEqual(loadCourse(root).features, [
      { name: "VIRTIO_F_EVENT_IDX", unlockedBy: "feature-words" },
    ]);
  } finally {
    await removeDir(root);
  }
});
