import assert from "node:assert/strict";
import { escapeHtml, htmlTable } from "../../format/html.ts";

Deno.test("escapeHtml replaces the five characters that matter in content and attributes", () => {
  assert.equal(
    escapeHtml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
});

Deno.test("htmlTable: caption, headings, one row per entry, every cell left-aligned", () => {
  const html = htmlTable({
    kind: "register-window",
    caption: "virtio-blk@0x1e000 <registers>",
    head: ["offset", "register", "value"],
    rows: [
      [{ code: "0x000" }, "MagicValue", { code: '0x74726976 ("virt")' }],
      [{ code: "0x070" }, "Status", { html: "<b>0x0f</b>" }],
    ],
  });
  assert.match(html, /^<table [^>]*data-virtio-lab="register-window">/);
  assert.match(html, /<caption [^>]*>virtio-blk@0x1e000 &lt;registers&gt;<\/caption>/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 3);
  const cells = html.match(/<t[dh] style="[^"]*"/g) ?? [];
  assert.equal(cells.length, 9);
  assert.ok(cells.every((c) => c.includes("text-align:left")));
  assert.ok(html.includes("<code>0x74726976 (&quot;virt&quot;)</code>"), "code cells escaped");
  assert.ok(html.includes("<b>0x0f</b>"), "html cells are kept as given");
});

Deno.test("htmlTable with no rows shows one cell across the table", () => {
  const html = htmlTable({ head: ["a", "b", "c"], rows: [], empty: "no queues" });
  assert.match(html, /<td style="[^"]*" colspan="3">no queues<\/td>/);
});
