/**
 * HTML escaping and tables for the rich displays (`Symbol.for("Jupyter.display")`) of
 * the conformance log, the register snapshots and the grade reports.
 *
 * @module
 */

const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for use in HTML element content and quoted attributes.
 *
 * @param text Any text.
 * @returns The text with `& < > " '` replaced by entities.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** A table cell: text (escaped), `{ code }` (escaped, in `<code>`) or `{ html }` (trusted markup). */
export type HtmlCell = string | { readonly code: string } | { readonly html: string };

/** What {@linkcode htmlTable} draws. */
export interface HtmlTableSpec {
  /** What the table shows, drawn above it (text, escaped). */
  readonly caption?: string;
  /** Column headings (text, escaped). */
  readonly head: readonly string[];
  /** The rows, each with one cell per heading. */
  readonly rows: readonly (readonly HtmlCell[])[];
  /** A `data-virtio-lab` attribute naming the display (the browser test looks for it). */
  readonly kind?: string;
  /** Shown in one cell across the table when there are no rows (default `(none)`). */
  readonly empty?: string;
}

const TABLE_STYLE = "border-collapse:collapse;margin:4px 0 8px 0;font-variant-numeric:tabular-nums";
const CELL_STYLE = "text-align:left;vertical-align:top;padding:2px 10px 2px 0;" +
  "border-bottom:1px solid rgba(128,128,128,0.25)";
const HEAD_STYLE = `${CELL_STYLE};font-weight:600;border-bottom:1px solid rgba(128,128,128,0.6)`;
const CAPTION_STYLE = "caption-side:top;text-align:left;font-weight:600;padding:2px 0";

function htmlCell(cell: HtmlCell): string {
  if (typeof cell === "string") return escapeHtml(cell);
  if ("code" in cell) return `<code>${escapeHtml(cell.code)}</code>`;
  return cell.html;
}

/**
 * An HTML table for a notebook display, left-aligned throughout. Jupyter's
 * own stylesheets right-align table cells (classic Notebook) or centre them,
 * which makes columns of register names and hex values hard to scan, so
 * every cell carries its alignment inline.
 *
 * @param spec Caption, headings, rows.
 * @returns A `<table>` element as text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { htmlTable } from "./html.ts";
 * const html = htmlTable({ head: ["offset", "register"], rows: [[{ code: "0x070" }, "Status"]] });
 * assert.match(html, /<td style="text-align:left[^"]*"><code>0x070<\/code><\/td>/);
 * ```
 */
export function htmlTable(spec: HtmlTableSpec): string {
  const kind = spec.kind ? ` data-virtio-lab="${escapeHtml(spec.kind)}"` : "";
  const caption = spec.caption
    ? `<caption style="${CAPTION_STYLE}">${escapeHtml(spec.caption)}</caption>`
    : "";
  const head = spec.head.map((h) => `<th style="${HEAD_STYLE}">${escapeHtml(h)}</th>`).join("");
  const rows = spec.rows.length === 0
    ? `<tr><td style="${CELL_STYLE}" colspan="${spec.head.length}">${
      escapeHtml(spec.empty ?? "(none)")
    }</td></tr>`
    : spec.rows.map((r) =>
      `<tr>${r.map((c) => `<td style="${CELL_STYLE}">${htmlCell(c)}</td>`).join("")}</tr>`
    ).join("");
  return `<table style="${TABLE_STYLE}"${kind}>${caption}<thead><tr>${head}</tr></thead>` +
    `<tbody>${rows}</tbody></table>`;
}
