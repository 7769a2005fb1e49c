import assert from "node:assert/strict";
import { LineDiscipline, toTerminal } from "../../guest/line_discipline.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("a typed line is echoed and delivered on Enter (CR, LF or CR LF)", () => {
  const tty = new LineDiscipline();
  assert.deepEqual(tty.feed(enc("help\r")), {
    events: [{ kind: "line", text: "help" }],
    echo: "help\r\n",
  });
  assert.deepEqual(tty.feed(enc("devices\n")).events, [{ kind: "line", text: "devices" }]);
  const crlf = tty.feed(enc("a\r\nb\r\n"));
  assert.deepEqual(crlf.events, [{ kind: "line", text: "a" }, { kind: "line", text: "b" }]);
});

Deno.test("CR at the end of one chunk and LF at the start of the next are one Enter", () => {
  const tty = new LineDiscipline();
  assert.equal(tty.feed(enc("x\r")).events.length, 1);
  assert.equal(tty.feed(enc("\ny\r")).events.length, 1);
});

Deno.test("erase, kill and word-erase edit the pending line", () => {
  const tty = new LineDiscipline();
  const r = tty.feed(enc("disk reaf\x7fd 2\x17\x17read 2\r"));
  assert.deepEqual(r.events, [{ kind: "line", text: "disk read 2" }]);
  tty.feed(enc("garbage"));
  const kill = tty.feed(enc("\x15"));
  assert.equal(kill.echo, "\b \b".repeat(7));
  assert.equal(tty.pending, "");
  assert.equal(tty.feed(enc("\x7f")).echo, "", "erasing an empty line echoes nothing");
});

Deno.test("Ctrl-C interrupts, Ctrl-D ends input only on an empty line", () => {
  const tty = new LineDiscipline();
  assert.deepEqual(tty.feed(enc("abc\x03")), {
    events: [{ kind: "interrupt" }],
    echo: "abc^C\r\n",
  });
  assert.deepEqual(tty.feed(enc("x\x04")).events, []);
  tty.feed(enc("\x15"));
  assert.deepEqual(tty.feed(enc("\x04")).events, [{ kind: "eof" }]);
});

Deno.test("escape sequences (arrow keys) are swallowed", () => {
  const tty = new LineDiscipline();
  const r = tty.feed(enc("st\x1b[Aat\x1bOBs\r"));
  assert.deepEqual(r.events, [{ kind: "line", text: "stats" }]);
});

Deno.test("UTF-8 split across chunks decodes, and erase removes a whole character", () => {
  const tty = new LineDiscipline();
  const bytes = enc("héllo");
  tty.feed(bytes.subarray(0, 2));
  tty.feed(bytes.subarray(2));
  assert.equal(tty.pending, "héllo");
  tty.feed(enc("\x7f\x7f\x7f\x7f"));
  assert.equal(tty.pending, "h");
});

Deno.test("echo can be turned off", () => {
  const tty = new LineDiscipline({ echo: false });
  assert.deepEqual(tty.feed(enc("secret\r")), {
    events: [{ kind: "line", text: "secret" }],
    echo: "",
  });
});

Deno.test("toTerminal maps LF to CR LF once", () => {
  assert.equal(toTerminal("a\nb\r\nc"), "a\r\nb\r\nc");
});

Deno.test("Up and Down walk the history of entered lines and come back to the draft", () => {
  const tty = new LineDiscipline();
  tty.feed(enc("devices\rstats\r\rstats\r"));
  assert.deepEqual(tty.history, ["devices", "stats"], "empty lines and repeats are not kept");
  tty.feed(enc("dis"));
  const up = tty.feed(enc("\x1b[A"));
  assert.equal(up.echo, "\b \b".repeat(3) + "stats");
  assert.equal(tty.pending, "stats");
  assert.equal(tty.feed(enc("\x1bOA")).echo, "\b \b".repeat(5) + "devices", "ESC O A is Up too");
  assert.equal(tty.feed(enc("\x1b[A")).echo, "", "nothing older: the line stays");
  assert.equal(tty.pending, "devices");
  tty.feed(enc("\x1b[B\x1b[B"));
  assert.equal(tty.pending, "dis", "Down past the newest brings back what was being typed");
  assert.equal(tty.feed(enc("\x1b[B")).echo, "");
  // A recalled line can be edited before Enter.
  assert.deepEqual(tty.feed(enc("\x1b[A\x7f\x7f\x7f\x7f\x7fdt\r")).events, [
    { kind: "line", text: "dt" },
  ]);
  assert.equal(tty.feed(enc("\x1b[1;5A")).echo, "", "Ctrl+Up (with parameters) is swallowed");
});

Deno.test("Tab completes one candidate, extends several to their prefix, lists them on a second Tab", () => {
  const commands = ["help", "devices", "disk info", "disk read", "dt", "stats"];
  const tty = new LineDiscipline({
    prompt: "guest$ ",
    complete: (line) => commands.filter((c) => c.startsWith(line)),
  });
  assert.equal(tty.feed(enc("st\t")).echo, "st" + "ats ");
  assert.equal(tty.pending, "stats ");
  tty.feed(enc("\x15"));
  assert.equal(tty.feed(enc("dis\t")).echo, "dis" + "k ", "the common prefix of disk info/read");
  assert.equal(tty.feed(enc("\t")).echo, "\r\ndisk info  disk read\r\nguest$ disk ");
  assert.equal(tty.feed(enc("r\t")).echo, "r" + "ead ");
  assert.deepEqual(tty.feed(enc("2\r")).events, [{ kind: "line", text: "disk read 2" }]);
  assert.equal(tty.feed(enc("x\t")).echo, "x\x07", "no candidate: the bell");
  assert.equal(new LineDiscipline().feed(enc("st\t")).echo, "st", "no completer: Tab is ignored");
});
