// When the lab prints OSC 8 links: the override, NO_COLOR, TERM=dumb and a pipe.
import assert from "node:assert/strict";
import { hyperlinksEnabled } from "../../cli/terminal.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("FORCE_HYPERLINK decides first: 1 on even when piped, 0 off", () => {
  assert.equal(hyperlinksEnabled(env({ FORCE_HYPERLINK: "1" }), () => false), true);
  assert.equal(
    hyperlinksEnabled(env({ FORCE_HYPERLINK: "0", TERM_PROGRAM: "WezTerm" }), () => true),
    false,
  );
});

Deno.test("no links with NO_COLOR, TERM=dumb, or when stdout is not a terminal", () => {
  assert.equal(hyperlinksEnabled(env({ NO_COLOR: "1" }), () => true), false);
  assert.equal(hyperlinksEnabled(env({ TERM: "dumb" }), () => true), false);
  assert.equal(hyperlinksEnabled(env({}), () => false), false);
});
