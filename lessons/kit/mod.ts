/**
 * The grading kit: what lesson graders share, one file per concern, so that
 * a grader is a table of rule rows plus the few checks unique to its lesson.
 *
 * | file                | concern                                                                 |
 * | ------------------- | ----------------------------------------------------------------------- |
 * | `rules.ts`          | rule rows compiled into checks; the compare-with-the-reference engine   |
 * | `format.ts`         | one formatter per thing a message shows (words, status, rings...)       |
 * | `mmio.ts`           | recording and scripted windows, the access budget, device fixtures      |
 * | `log.ts`            | the log: nothing logged, strict violations cited as failures            |
 * | `machine.ts`        | the lab machine on the learner's parts, and the machine check           |
 * | `snoop.ts`          | `SnoopingMemory`: hooks after every load and store, counters, detectors |
 * | `budget.ts`         | the read budget that stops a runaway chain walk or poll loop            |
 * | `ring.ts`           | ring fixtures: both halves of one queue, at any start index             |
 * | `observer.ts`       | concurrent observers of store order, the kick, re-enable and reap races |
 * | `ring_checks.ts`    | the observers as grader checks, on a seeded ring workload               |
 * | `ring_steps.ts`     | one part run on a fixture: the other side's moves, what the part did    |
 * | `hostile_driver.ts` | hostile chains and available rings, as data and as rule rows            |
 * | `hostile_device.ts` | hostile used rings, as data and as rule rows                            |
 * | `eager.ts`          | a device that completes inside the driver's notification                |
 * | `interrupts.ts`     | spurious interrupts, a handler on trial, a machine gone quiet           |
 * | `reap.ts`           | reap loops against a device returning chains while they reap            |
 * | `double_fetch.ts`   | memory that changes a field after its first read; read counts           |
 * | `shadow.ts`         | the driver's record: staged rings, invariants, placing and freeing runs |
 * | `stream.ts`         | chains as byte streams, cut every way, and the rows that read them      |
 * | `placements.ts`     | where a driver may put a queue's areas, as data with the fair answers   |
 *
 * Graders import what they use, e.g. `import { every, ruleFor } from "../kit/rules.ts"`
 * and `import * as show from "../kit/format.ts"`, or everything from here.
 * The kit is course code, not a lesson: the manifest ignores it, the
 * coverage table counts none of it as a lesson (only the concurrent observers,
 * as checks of the store-order rules), and it carries no lesson numbers.
 *
 * @module
 */

export * from "./format.ts";
export * from "./log.ts";
export * from "./machine.ts";
export * from "./mmio.ts";
export * from "./rules.ts";
export * from "./snoop.ts";
export * from "./budget.ts";
export * from "./ring.ts";
export * from "./observer.ts";
export * from "./ring_checks.ts";
export * from "./ring_steps.ts";
export * from "./hostile_driver.ts";
export * from "./hostile_device.ts";
export * from "./eager.ts";
export * from "./interrupts.ts";
export * from "./reap.ts";
export * from "./double_fetch.ts";
export * from "./shadow.ts";
export * from "./stream.ts";
export * from "./placements.ts";
