/**
 * The grading kit: what lesson graders share, one file per concern, so that
 * a grader is a table of rule rows plus the few checks unique to its lesson.
 *
 * | file         | concern                                                                 |
 * | ------------ | ----------------------------------------------------------------------- |
 * | `rules.ts`   | rule rows compiled into checks; the compare-with-the-reference engine   |
 * | `format.ts`  | one formatter per thing a message shows (words, status, features...)    |
 * | `mmio.ts`    | recording and scripted windows, the access budget, device fixtures      |
 * | `log.ts`     | the conformance log: no violations, strict violations cited as failures |
 * | `machine.ts` | the lab machine on the learner's parts, and the machine check           |
 *
 * Graders import what they use, e.g. `import { every, ruleFor } from "../kit/rules.ts"`
 * and `import * as show from "../kit/format.ts"`, or everything from here.
 * The kit is course code, not a lesson: the manifest and the coverage table
 * ignore it, and it carries no lesson numbers.
 *
 * @module
 */

export * from "./format.ts";
export * from "./log.ts";
export * from "./machine.ts";
export * from "./mmio.ts";
export * from "./rules.ts";
