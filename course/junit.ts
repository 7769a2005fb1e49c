/**
 * A small reader for the JUnit XML that `deno test --junit-path` writes:
 * just the test cases, their time and their failure text. Deno's output is
 * regular (one `<testcase>` element per test, optional `<failure>` or
 * `<skipped/>` inside), so a focused parser is enough and needs no
 * dependency.
 *
 * @module
 */

/** One `<testcase>` of a JUnit report. */
export interface JunitCase {
  /** The test's name. */
  readonly name: string;
  /** The `classname` attribute (Deno puts the test file there). */
  readonly classname: string;
  /** Time taken, in seconds. */
  readonly time: number;
  /** `"failed"` with a `<failure>`/`<error>`, `"ignored"` with `<skipped/>`, else `"passed"`. */
  readonly status: "passed" | "failed" | "ignored";
  /** The failure's `message` attribute ("" when none). */
  readonly failureMessage: string;
  /** The failure element's text (message, code frame and stack; "" when none). */
  readonly failureText: string;
}

/**
 * Parses the test cases of a JUnit XML document.
 *
 * @param xml The document.
 * @returns The test cases in document order (empty for a document without any).
 */
export function parseJunit(xml: string): JunitCase[] {
  const cases: JunitCase[] = [];
  const re = /<testcase\b((?:[^>"]|"[^"]*")*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const attrs = parseAttributes(m[1]);
    const body = m[3] ?? "";
    let status: JunitCase["status"] = "passed";
    let failureMessage = "";
    let failureText = "";
    const failure = /<(failure|error)\b((?:[^>"]|"[^"]*")*?)(\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    if (failure) {
      status = "failed";
      failureMessage = parseAttributes(failure[2]).message ?? "";
      failureText = unescapeXml(failure[4] ?? "");
    } else if (/<skipped\b/.test(body)) {
      status = "ignored";
    }
    cases.push({
      name: attrs.name ?? "",
      classname: attrs.classname ?? "",
      time: Number(attrs.time ?? 0) || 0,
      status,
      failureMessage,
      failureText,
    });
  }
  return cases;
}

function parseAttributes(text: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of text.matchAll(/([\w:-]+)\s*=\s*"([^"]*)"/g)) attrs[m[1]] = unescapeXml(m[2]);
  return attrs;
}

/**
 * Decodes XML character and entity references.
 *
 * @param text Escaped text.
 */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_m, ref: string) => {
    switch (ref) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      case "apos":
        return "'";
    }
    const code = ref.startsWith("#x") ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return String.fromCodePoint(code);
  });
}
