/**
 * Child process for `blk_file_test.ts`: opens a disk image with
 * FileBlockBackend and prints the outcome as one JSON line, so the test can
 * open it under another user or with fewer Deno permissions.
 *
 * Usage: `_open_image_child.ts <path> <rw|ro>`.
 */

import { BlockImageError, FileBlockBackend } from "../../devices/blk/backends.ts";

const [path, mode] = Deno.args;
try {
  const backend = await FileBlockBackend.open(path, { readOnly: mode === "ro" });
  console.log(JSON.stringify({ ok: true, size: backend.size, readOnly: backend.readOnly }));
  await backend.close();
} catch (e) {
  if (!(e instanceof BlockImageError)) throw e;
  console.log(JSON.stringify({ ok: false, code: e.code, message: e.message }));
}
