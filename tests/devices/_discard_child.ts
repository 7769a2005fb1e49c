/**
 * Child process for `blk_discard_test.ts`: opens an image with
 * FileBlockBackend under the permissions it was started with (the test
 * leaves out `--allow-ffi`), zeroes 64 KiB at offset 4096 with `unmap`, and
 * prints whether holes could be punched as one JSON line.
 *
 * Usage: `_discard_child.ts <path>`.
 */

import { FileBlockBackend } from "../../devices/blk/backends.ts";

const backend = await FileBlockBackend.open(Deno.args[0]);
const deallocated = await backend.writeZeroes(4096, 65536, true);
console.log(JSON.stringify({ canDeallocate: backend.canDeallocate, deallocated }));
await backend.close();
