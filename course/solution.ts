/**
 * `lab solution`: the reference code of a lesson is the library itself, so
 * instead of a second copy under `lessons/`, the lesson names library files
 * and exported symbols (`lesson.json` → `solution`) and this module extracts
 * each exported declaration's text, with its doc comment.
 *
 * @module
 */

import * as path from "node:path";
import type { Course, Lesson } from "./manifest.ts";
import { CourseFormatError } from "./errors.ts";
import { REPO_ROOT } from "./paths.ts";

/** One extracted declaration. */
export interface SolutionPart {
  /** The exported name. */
  readonly symbol: string;
  /** The file it was found in, relative to the course root. */
  readonly file: string;
  /** 1-based line of the declaration's first line (its doc comment included). */
  readonly line: number;
  /** The declaration's source text. */
  readonly text: string;
}

/**
 * Extracts the reference code of a lesson: the declaration of each part the
 * lesson provides (`lesson.json` → `parts`), found by following the lesson's
 * `reference.ts` re-exports into the library, then the extra declarations
 * listed in `lesson.json` → `solution`.
 *
 * @param course The course (for messages).
 * @param lesson The lesson.
 * @param libraryRoot Where the library lives (default: this repository; the
 *   `file` of each solution entry is relative to it).
 * @returns One entry per part, then one per extra symbol, in order.
 * @throws {CourseFormatError} When a file is missing or a symbol is not an
 *   exported declaration of it (an authoring mistake the project's tests catch).
 */
export function extractSolution(
  course: Course,
  lesson: Lesson,
  libraryRoot: string = REPO_ROOT,
): SolutionPart[] {
  const parts: SolutionPart[] = [];
  for (const key of lesson.parts) {
    const name = key.slice(key.lastIndexOf(".") + 1);
    const found = findExport(libraryRoot, lesson.paths.reference, name, 0);
    if (!found) {
      throw new CourseFormatError(
        path.relative(course.root, lesson.paths.json),
        `part ${key}: reference.ts does not export a declaration named "${name}"`,
      );
    }
    parts.push(found);
  }
  for (const ref of lesson.solution) {
    for (const symbol of ref.symbols) {
      if (parts.some((p) => p.symbol === symbol)) continue; // shown as a part already
      const found = findExport(libraryRoot, path.join(libraryRoot, ref.file), symbol, 0);
      if (!found) {
        throw new CourseFormatError(
          path.relative(course.root, lesson.paths.json),
          `solution symbol "${symbol}" is not an exported declaration of ${ref.file}`,
        );
      }
      parts.push(found);
    }
  }
  return parts;
}

function findExport(
  root: string,
  file: string,
  symbol: string,
  depth: number,
): SolutionPart | null {
  let source: string;
  try {
    source = Deno.readTextFileSync(file);
  } catch {
    throw new CourseFormatError(
      path.relative(root, file),
      "is missing (named by a lesson's solution)",
    );
  }
  const rel = path.relative(root, file).split(path.sep).join("/");
  const declarations = extractDeclarations(source, symbol);
  if (declarations.length > 0) {
    return {
      symbol,
      file: rel,
      line: declarations[0].line,
      text: declarations.map((d) => d.text).join("\n\n"),
    };
  }
  if (depth > 4) return null;
  // `export { a, b as symbol } from "./other.ts"`: follow the re-export.
  for (const m of source.matchAll(/export\s*(?:type\s*)?\{([^}]*)\}\s*from\s*["']([^"']+)["']/g)) {
    for (const item of m[1].split(",")) {
      const [orig, alias] = item.trim().replace(/^type\s+/, "").split(/\s+as\s+/);
      if ((alias ?? orig) === symbol && m[2].startsWith(".")) {
        return findExport(root, path.resolve(path.dirname(file), m[2]), orig, depth + 1);
      }
    }
  }
  return null;
}

/**
 * Finds the exported declarations of a name in TypeScript source (all
 * overloads), each with the doc comment right above it.
 *
 * @param source TypeScript source text.
 * @param symbol The exported name.
 * @returns Each declaration's text and first line; empty when not found.
 */
export function extractDeclarations(
  source: string,
  symbol: string,
): { text: string; line: number }[] {
  const escaped = symbol.replace(/[$]/g, "\\$");
  const re = new RegExp(
    String.raw`^export\s+(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?` +
      String.raw`(function\*?|class|const|let|var|interface|type|enum)\s+${escaped}(?![\w$])`,
    "gm",
  );
  const out: { text: string; line: number }[] = [];
  for (const m of source.matchAll(re)) {
    const declStart = m.index!;
    const end = declarationEnd(source, declStart);
    const start = docCommentStart(source, declStart);
    out.push({
      text: source.slice(start, end).trimEnd(),
      line: source.slice(0, start).split("\n").length,
    });
  }
  return out;
}

function docCommentStart(source: string, declStart: number): number {
  const before = source.slice(0, declStart);
  const m = /\/\*\*(?:[^*]|\*(?!\/))*\*\/\s*$/.exec(before);
  if (!m) return declStart;
  // Only a comment separated by whitespace alone belongs to the declaration.
  return m.index;
}

/**
 * The index just past the end of the declaration starting at `start`: the
 * `}` or `;` that closes it at bracket depth 0 and ends its line.
 */
function declarationEnd(source: string, start: number): number {
  let depth = 0;
  let i = start;
  let lastSignificant = "";
  const n = source.length;
  const endsLine = (j: number): boolean => {
    let k = j;
    while (k < n && (source[k] === " " || source[k] === "\t" || source[k] === ";")) k++;
    return k >= n || source[k] === "\n" || source[k] === "\r" || source.startsWith("//", k);
  };
  while (i < n) {
    const c = source[i];
    if (c === "/" && source[i + 1] === "/") {
      i = source.indexOf("\n", i);
      if (i < 0) return n;
      continue;
    }
    if (c === "/" && source[i + 1] === "*") {
      const close = source.indexOf("*/", i + 2);
      i = close < 0 ? n : close + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      i = skipString(source, i, c);
      lastSignificant = c;
      continue;
    }
    if (c === "`") {
      i = skipTemplate(source, i);
      lastSignificant = c;
      continue;
    }
    if (c === "/" && (lastSignificant === "" || "(,=:[!&|?{};+-*%<>~^".includes(lastSignificant))) {
      i = skipRegex(source, i);
      lastSignificant = "/";
      continue;
    }
    if (c === "{" || c === "(" || c === "[") depth++;
    else if (c === "}" || c === ")" || c === "]") {
      depth--;
      if (depth === 0 && c === "}" && endsLine(i + 1)) {
        let j = i + 1;
        while (j < n && (source[j] === " " || source[j] === ";")) j++;
        return j;
      }
    } else if (c === ";" && depth === 0) {
      return i + 1;
    }
    if (!/\s/.test(c)) lastSignificant = c;
    i++;
  }
  return n;
}

function skipString(source: string, i: number, quote: string): number {
  let j = i + 1;
  while (j < source.length && source[j] !== quote) {
    if (source[j] === "\\") j++;
    if (source[j] === "\n") break;
    j++;
  }
  return j + 1;
}

function skipTemplate(source: string, i: number): number {
  let j = i + 1;
  while (j < source.length) {
    const c = source[j];
    if (c === "\\") {
      j += 2;
      continue;
    }
    if (c === "`") return j + 1;
    if (c === "$" && source[j + 1] === "{") {
      // Skip the substitution, which may contain strings, templates and braces.
      let depth = 1;
      j += 2;
      while (j < source.length && depth > 0) {
        const d = source[j];
        if (d === '"' || d === "'") {
          j = skipString(source, j, d);
          continue;
        }
        if (d === "`") {
          j = skipTemplate(source, j);
          continue;
        }
        if (d === "{") depth++;
        if (d === "}") depth--;
        j++;
      }
      continue;
    }
    j++;
  }
  return j;
}

function skipRegex(source: string, i: number): number {
  let j = i + 1;
  let inClass = false;
  while (j < source.length) {
    const c = source[j];
    if (c === "\\") {
      j += 2;
      continue;
    }
    if (c === "\n") return i + 1; // not a regex after all: treat "/" as division
    if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) {
      j++;
      while (j < source.length && /[a-z]/i.test(source[j])) j++;
      return j;
    }
    j++;
  }
  return j;
}
