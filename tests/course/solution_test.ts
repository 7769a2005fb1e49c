import assert from "node:assert/strict";
import { extractDeclarations, extractSolution } from "../../course/solution.ts";
import { fixtureCourse } from "./helpers.ts";

const SOURCE = `import { x } from "./x.ts";

/** Doc of f. */
export function f(a: { b: number }): { c: string } {
  const s = "}{";
  const t = \`\${"}"}\`;
  const r = /[{}]/g;
  return { c: s + t + String(r) + a.b };
}

// not a doc comment
export const g = (n: number) => {
  return n / 2 / 1;
};

export interface Shape {
  readonly a: number;
}

export type Pair = [number, number];

/** Overload one. */
export function h(a: number): number;
export function h(a: string): string;
export function h(a: unknown): unknown {
  return a;
}

export class Box<T> {
  #v: T;
  constructor(v: T) {
    this.#v = v;
  }
  get value(): T {
    return this.#v;
  }
}
export const after = 1;
`;

Deno.test("extractDeclarations finds each kind of exported declaration with its doc comment", () => {
  const f = extractDeclarations(SOURCE, "f");
  assert.equal(f.length, 1);
  assert.ok(f[0].text.startsWith("/** Doc of f. */\nexport function f("));
  assert.ok(f[0].text.endsWith("return { c: s + t + String(r) + a.b };\n}"));
  assert.equal(f[0].line, 3);
  assert.equal(
    extractDeclarations(SOURCE, "g")[0].text,
    "export const g = (n: number) => {\n  return n / 2 / 1;\n};",
  );
  assert.equal(
    extractDeclarations(SOURCE, "Shape")[0].text,
    "export interface Shape {\n  readonly a: number;\n}",
  );
  assert.equal(extractDeclarations(SOURCE, "Pair")[0].text, "export type Pair = [number, number];");
  assert.equal(extractDeclarations(SOURCE, "h").length, 3);
  const box = extractDeclarations(SOURCE, "Box")[0].text;
  assert.ok(box.endsWith("return this.#v;\n  }\n}"));
  assert.ok(!box.includes("after"));
  assert.deepEqual(extractDeclarations(SOURCE, "x"), []);
  assert.deepEqual(extractDeclarations(SOURCE, "ff"), []);
});

Deno.test("extractSolution shows the library's code named in lesson.json, following re-exports", () => {
  const course = fixtureCourse();
  const parts = extractSolution(course, course.lessons[0]);
  assert.deepEqual(parts.map((p) => [p.symbol, p.file]), [
    ["featureWord", "virtio/features.ts"],
    ["withFeatureWord", "virtio/features.ts"],
  ]);
  assert.match(
    parts[0].text,
    /^\/\*\*[\s\S]*export function featureWord\(word: bigint, select: number\): number \{[\s\S]*\}$/,
  );
});
