// deno-lint-ignore-file no-unused-vars
// Preloaded by `deno task lab repl [N]` (deno repl --eval-file): binds the lab
// as REPL globals. The lesson comes from $VIRTIO_LAB_LESSON; `lab.help()`
// prints what is here. Evaluated as a script, so it has no exports; its
// relative imports resolve against the current directory, which `lab repl`
// sets to cli/.
import { startLabRepl } from "./lesson/repl_support.ts";

const __lab = await startLabRepl();
const machine = __lab.machine;
const memory = __lab.memory;
const bus = __lab.bus;
const log = __lab.log;
const ex = __lab.ex;
const ref = __lab.ref;
const lab = __lab.lab;
const hex = __lab.hex;
