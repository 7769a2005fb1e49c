/**
 * Clickable text for terminals: OSC 8 hyperlinks
 * (https://gist.github.com/egmontkob/eb114294efbcd5adb1944c9f3cb5feda) to
 * the sections of the virtio 1.2 specification and to files on disk.
 *
 * These functions only format; whether the terminal shows links is the
 * caller's decision (the `lab` command's `cli/terminal.ts` detects it), so a
 * renderer takes a `links` flag and prints plain text without it.
 *
 * @module
 */

import { pathToFileURL } from "node:url";

/** The virtio 1.2 specification (Committee Specification Draft 01) as one HTML page. */
export const VIRTIO_SPEC_URL =
  "https://docs.oasis-open.org/virtio/virtio/v1.2/csd01/virtio-v1.2-csd01.html";

/**
 * The address of a section of the virtio 1.2 HTML specification.
 *
 * The HTML's anchors (`#x1-2160005`) are numbered by the tool that built it
 * and cannot be derived from the section number, so the link carries a text
 * fragment (`#:~:text=`): the section's title, preceded by its number as the
 * fragment's prefix (several sections share a title, such as "Driver
 * Requirements: Device Initialization"). Browsers that support text
 * fragments scroll to its first occurrence, the section's line in the table of
 * contents, one click from the section; the others open the document.
 *
 * @param title The section's title as the spec gives it, e.g.
 *   `"Driver Requirements: MMIO Device Register Layout"`; without one, the
 *   document itself.
 * @param section The section's number, e.g. `"4.2.2.2"` (the fragment's prefix).
 * @returns The URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { specSectionUrl, VIRTIO_SPEC_URL } from "./links.ts";
 * assert.equal(
 *   specSectionUrl("Device Status Field", "2.1"),
 *   `${VIRTIO_SPEC_URL}#:~:text=2.1-,Device%20Status%20Field`,
 * );
 * assert.equal(specSectionUrl("Device Status Field"), `${VIRTIO_SPEC_URL}#:~:text=Device%20Status%20Field`);
 * assert.equal(specSectionUrl(), VIRTIO_SPEC_URL);
 * ```
 */
export function specSectionUrl(title?: string, section?: string): string {
  if (!title) return VIRTIO_SPEC_URL;
  // In a text fragment `-`, `,` and `&` are syntax: percent-encode them in the text.
  const encode = (text: string) => encodeURIComponent(text).replace(/-/g, "%2D");
  const prefix = section ? `${encode(section)}-,` : "";
  return `${VIRTIO_SPEC_URL}#:~:text=${prefix}${encode(title)}`;
}

/**
 * The `file://` URL of a path on this machine.
 *
 * @param absolutePath An absolute path.
 * @returns The URL, e.g. `file:///home/me/workspace/01-mmio-window/exercise.ts`.
 */
export function fileUrl(absolutePath: string): string {
  return pathToFileURL(absolutePath).href;
}

/**
 * `text` as an OSC 8 hyperlink to `url` (terminated by BEL, the form
 * `wrap-ansi` and `cli-table3` measure as zero columns), or `text` itself
 * when `enabled` is false.
 *
 * @param text What the terminal shows (may carry colour codes).
 * @param url Where it leads.
 * @param enabled Whether to emit the link.
 * @returns The text, linked or not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hyperlink } from "./links.ts";
 * assert.equal(hyperlink("§2.1", "https://example.org/", true), "\x1b]8;;https://example.org/\x07§2.1\x1b]8;;\x07");
 * assert.equal(hyperlink("§2.1", "https://example.org/", false), "§2.1");
 * ```
 */
export function hyperlink(text: string, url: string, enabled: boolean): string {
  return enabled ? `\x1b]8;;${url}\x07${text}\x1b]8;;\x07` : text;
}
