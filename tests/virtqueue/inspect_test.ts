// The ring display: text for the REPL (Deno.customInspect), HTML for Jupyter
// (Symbol.for("Jupyter.display")), for the driver's and the device's state.

import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import { createSplitDeviceRing } from "../../virtqueue/device/ring.ts";
import { descFlagNames, inspectRing, SplitRingSnapshot } from "../../virtqueue/inspect.ts";

/** What Jupyter shows for a value: its `Symbol.for("Jupyter.display")` bundle. */
function jupyter(value: unknown): Record<string, string> {
  const show = (value as Record<symbol, () => Record<string, string>>)[
    Symbol.for("Jupyter.display")
  ];
  assert.equal(typeof show, "function", "has a Jupyter display");
  return show.call(value);
}

/** What the REPL prints for a value (through its `Deno.customInspect`). */
const repl = (value: unknown) => Deno.inspect(value);

function queues(size: number, eventIdx = false) {
  const memory = new GuestMemory(1 << 20, { base: 0x4000_0000 });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 1, size, eventIdx, indirect: true };
  const driver = SplitQueueDriver.create<unknown>({
    ...common,
    allocator,
    reporter: log.scoped("d"),
  });
  const device = new SplitQueueDevice({
    ...common,
    ...driver.addresses,
    reporter: log.scoped("v"),
  });
  const buf = (len: number) => ({ addr: allocator.alloc(len), len });
  return { memory, driver, device, buf, log };
}

/** Rows of the text table under the section whose title starts with `title`. */
function section(text: string, title: string): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith(title));
  assert.ok(start >= 0, `no section "${title}" in:\n${text}`);
  const rows: string[] = [];
  for (let i = start + 1; i < lines.length && lines[i] !== ""; i++) rows.push(lines[i]);
  return rows;
}

/** Splits a text table row into its cells (columns are separated by 2+ spaces). */
const cells = (row: string) => row.trim().split(/\s{2,}/);

Deno.test("the driver's ring as text: descriptors, both rings with idx, free list, chains in flight", () => {
  const { driver, device, buf } = queues(8);
  const h = buf(16);
  const d = buf(512);
  driver.add([h], [d, buf(1)], "read sector 2", { indirect: "never" });
  driver.add([buf(4)], [], { op: "tx" });
  driver.kickPrepare();
  driver.add([], [buf(64)], "rx");
  device.push(device.pop()!.head, 513);
  const text = repl(driver);
  assert.equal(text, inspectRing(driver.ring).format());
  const lines = text.split("\n");
  assert.equal(
    lines[0],
    "split virtqueue 1, driver side: 8 descriptors, event idx off, indirect on",
  );
  assert.match(
    lines[1],
    /avail idx 2 \(1 placed, not published\), last used 0; 3 free, 3 in flight/,
  );

  const desc = section(text, "descriptor table at 0x");
  assert.deepEqual(cells(desc[0]), ["#", "addr", "len", "flags", "next", "chain"]);
  assert.deepEqual(cells(desc[1]), [
    "0",
    `0x${h.addr.toString(16)}`,
    "16",
    "NEXT",
    "1",
    "head 0 (published)",
  ]);
  assert.deepEqual(cells(desc[2]), [
    "1",
    `0x${d.addr.toString(16)}`,
    "512",
    "NEXT|WRITE",
    "2",
    "in chain 0",
  ]);
  assert.deepEqual(cells(desc[5]).slice(-1), ["head 4 (placed)"]);
  assert.deepEqual(cells(desc[6]), ["5", "0x00000000", "0", "-", "0", "free"]);
  assert.equal(desc.length, 9, "header and all 8 descriptors of a small ring");

  const avail = section(text, "available ring at");
  assert.match(text, /available ring at 0x[0-9a-f]+: flags 0x0000, idx 2\n/);
  assert.deepEqual(cells(avail[1]), ["0", "0", "0", "published"]);
  assert.deepEqual(cells(avail[3]), ["2", "4", "2", "placed"]);
  assert.deepEqual(cells(avail[4]), ["3", "0"], "a slot without a live entry");

  assert.match(text, /used ring at 0x[0-9a-f]+: flags 0x0000, idx 1\n/);
  assert.deepEqual(cells(section(text, "used ring at")[1]), ["0", "0", "513", "0", "to reap"]);

  const inFlight = section(text, "in flight (3)");
  assert.deepEqual(cells(inFlight[0]), [
    "head",
    "state",
    "descriptors",
    "writable",
    "table",
    "token",
  ]);
  assert.deepEqual(cells(inFlight[1]), ["0", "published", "3", "513", '"read sector 2"']);
  assert.deepEqual(cells(inFlight[2]), ["3", "published", "1", "0", '{ op: "tx" }']);
  assert.match(text, /\nfree list \(3\): 5 → 6 → 7$/);
  for (const line of lines) assert.equal(line, line.trimEnd(), "no trailing blanks");
});

Deno.test("the device's ring as text: what it holds, notifications, the used entries not signalled", () => {
  const { driver, device, buf } = queues(4, true);
  driver.add([], [buf(8)], "a");
  driver.add([], [buf(8)], "b");
  driver.kickPrepare();
  const a = device.pop()!;
  device.disableNotifications();
  device.push(a.head, 8);
  const text = repl(device);
  const lines = text.split("\n");
  assert.equal(
    lines[0],
    "split virtqueue 1, device side: 4 descriptors, event idx on, indirect on",
  );
  assert.equal(
    lines[1],
    "  last avail idx 1 (1 available), used idx 1, signalled at 0; 0 in flight; notifications off",
  );
  assert.match(text, /available ring at 0x[0-9a-f]+: flags 0x0000, idx 2, used_event 0\n/);
  assert.match(text, /used ring at 0x[0-9a-f]+: flags 0x0000, idx 1, avail_event 0\n/);
  assert.deepEqual(cells(section(text, "available ring at")[2]), ["1", "1", "1", "available"]);
  assert.deepEqual(cells(section(text, "used ring at")[1]), [
    "0",
    "0",
    "8",
    "0",
    "pushed, not signalled",
  ]);
  assert.deepEqual(section(text, "in flight (0)"), ["  (none)"]);
  device.pop();
  assert.deepEqual(cells(section(repl(device), "in flight (1)")[1]), [
    "1",
    "with the device model",
    "8",
  ]);
  assert.doesNotMatch(text, /free list/, "the device has no free list");
});

Deno.test("the HTML form has the same tables, left-aligned, with every text escaped", () => {
  const { driver, buf } = queues(4);
  driver.add([buf(8)], [], "<script>alert('x')</script> & co");
  const display = jupyter(driver);
  assert.deepEqual(Object.keys(display).sort(), ["text/html", "text/plain"]);
  assert.equal(display["text/plain"], repl(driver));
  const html = display["text/html"];
  assert.ok(!html.includes("<script>"), "token escaped");
  assert.ok(html.includes("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
  for (
    const caption of ["descriptor table at", "available ring at", "used ring at", "in flight (1)"]
  ) {
    const escaped = caption.replace(/[()]/g, "\\$&");
    assert.match(html, new RegExp(`<caption style="[^"]*text-align:left[^"]*">${escaped}`));
  }
  assert.equal((html.match(/<table/g) ?? []).length, 4);
  assert.match(html, /<th style="text-align:left[^"]*">flags<\/th>/);
  const cells = html.match(/<t[dh] style="[^"]*"/g) ?? [];
  assert.ok(cells.length > 0 && cells.every((c) => c.includes("text-align:left")));
  assert.ok(html.includes("<code>head 0 (placed)</code>"));
  assert.ok(html.includes("free list (3): 1 → 2 → 3"));
  // The ring record itself displays the same way.
  assert.deepEqual(jupyter(driver.ring), display);
  assert.equal(repl(driver.ring), display["text/plain"]);
});

Deno.test("a large ring collapses unused descriptors and shows only live ring entries", () => {
  const { driver, device, buf } = queues(256);
  for (let k = 0; k < 3; k++) driver.add([], [buf(8)], `t${k}`);
  driver.kickPrepare();
  device.push(device.pop()!.head, 8);
  const text = repl(driver);
  const desc = section(text, "descriptor table at");
  assert.equal(desc.length, 1 + 3 + 1, "header, three chains, one run");
  assert.deepEqual(cells(desc[4]), ["3-255", "unused, free"]);
  assert.equal(section(text, "available ring at").length, 1 + 3);
  assert.equal(section(text, "used ring at").length, 1 + 1);
  assert.match(text, /free list \(253\): 3 → 4 → 5 → .* → 34 → …$/);
});

Deno.test("a ring whose parts lie outside RAM is displayed, not thrown", () => {
  const memory = new GuestMemory(0x2000);
  const ring = createSplitDeviceRing({
    memory,
    index: 0,
    size: 8,
    eventIdx: true,
    indirect: false,
    descAddr: 0x1fc0,
    availAddr: 0x9000,
    usedAddr: 0x1000,
    reporter: new ConformanceLog().scoped("q"),
  });
  const snapshot = inspectRing(ring);
  assert.ok(snapshot instanceof SplitRingSnapshot);
  assert.equal(snapshot.availIdx, null);
  assert.equal(snapshot.usedEvent, null);
  assert.deepEqual(snapshot.avail, []);
  const text = snapshot.format();
  assert.match(text, /available ring at 0x00009000: flags outside RAM, idx outside RAM\n/);
  assert.deepEqual(cells(section(text, "descriptor table at")[5]), ["4-7", "outside RAM"]);
  assert.equal(repl(snapshot), text);
});

Deno.test("descFlagNames names the three flags and shows unknown bits in hex", () => {
  assert.equal(descFlagNames(0), "-");
  assert.equal(descFlagNames(3), "NEXT|WRITE");
  assert.equal(descFlagNames(4), "INDIRECT");
  assert.equal(descFlagNames(0x8005), "NEXT|INDIRECT|0x8000");
});
