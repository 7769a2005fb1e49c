// lab show's pager: only on a terminal, only for text taller than it, $PAGER or less.
import assert from "node:assert/strict";
import { page, pagerCommand, type PagerHost } from "../../cli/pager.ts";

function host(over: Partial<PagerHost> & { vars?: Record<string, string> } = {}) {
  const calls: { command: string; text: string; env: Record<string, string> }[] = [];
  const printed: string[] = [];
  const h: PagerHost = {
    isTerminal: () => true,
    rows: () => 5,
    env: (name) => over.vars?.[name],
    has: (program) => program === "less",
    run: (command, text, env) => (calls.push({ command, text, env }), Promise.resolve(0)),
    print: (text) => printed.push(text),
    ...over,
  };
  return { h, calls, printed };
}

const tall = Array.from({ length: 10 }, (_, i) => `line ${i}`).join("\n");

Deno.test("a text taller than the terminal goes through less with LESS=FRX", async () => {
  const { h, calls, printed } = host();
  assert.equal(await page(tall, h), true);
  assert.deepEqual(calls, [{ command: "less", text: `${tall}\n`, env: { LESS: "FRX" } }]);
  assert.deepEqual(printed, []);
});

Deno.test("$PAGER wins, and the learner's LESS is left alone", async () => {
  const { h, calls } = host({ vars: { PAGER: "most -s", LESS: "-i" } });
  await page(tall, h);
  assert.deepEqual(calls.map((c) => [c.command, c.env]), [["most -s", {}]]);
  assert.equal(
    pagerCommand({ env: (n) => (n === "PAGER" ? "cat" : undefined), has: () => true }),
    null,
  );
});

Deno.test("printed as it is: piped, short, no pager installed, or a pager that cannot start", async () => {
  for (
    const over of [
      { isTerminal: () => false },
      { rows: () => 40 },
      { has: () => false },
      { run: () => Promise.resolve(null) },
    ] as Partial<PagerHost>[]
  ) {
    const { h, printed } = host(over);
    assert.equal(await page(tall, h), false);
    assert.deepEqual(printed, [tall]);
  }
});
