/**
 * A multiport console's control messages on trial (§5.3.6.2): cases as
 * data (a side's port table in some state, one message from the other
 * side), a run of the side's step on a fresh copy of the table, and the run
 * in comparable form: the answers (decoded, with the fields the spec leaves
 * unused left out, in a fixed order), the table afterwards, the ids
 * reported, or what was thrown.
 *
 * Device side: `DEVICE_CASES` for `handleDriverMessage(state, message,
 * reporter)`. Driver side: `DRIVER_CASES` for `handleControlMessage(state,
 * message, reporter)`.
 *
 * @module
 */

import { ConformanceLog, ConformanceReporter } from "../../conformance/log.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import {
  decodeControl,
  type DeviceControlState,
  type DriverControlState,
  encodeControl,
} from "../../devices/console/control.ts";
import {
  VIRTIO_CONSOLE_CONSOLE_PORT as CONSOLE_PORT,
  VIRTIO_CONSOLE_CONTROL_EVENT_NAMES,
  VIRTIO_CONSOLE_DEVICE_ADD as DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY as DEVICE_READY,
  VIRTIO_CONSOLE_DEVICE_REMOVE as DEVICE_REMOVE,
  VIRTIO_CONSOLE_PORT_NAME as PORT_NAME,
  VIRTIO_CONSOLE_PORT_OPEN as PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY as PORT_READY,
  VIRTIO_CONSOLE_RESIZE as RESIZE,
} from "../../devices/console/constants.ts";
import { attempt } from "./rules.ts";
import { thrown } from "./rules.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const cut = (bytes: Uint8Array, n: number) => bytes.slice(0, n);

/** What a control case is about: the grader's rows filter by it. */
export type ControlTopic =
  | "announce" // DEVICE_READY and what follows
  | "answer" // PORT_READY answered
  | "name" // PORT_NAME's bytes
  | "open" // PORT_OPEN recorded
  | "refuse"; // a message the side must report and not act on

/** One port of a device case: a row of the device's table. */
export interface DevicePortCase {
  readonly name?: string;
  readonly console?: boolean;
  readonly hostOpen?: boolean;
  readonly added?: boolean;
  readonly ready?: boolean;
  readonly guestOpen?: boolean | null;
}

/** A device case: the table, the driver's message, and what the case is about. */
export interface DeviceCase {
  readonly label: string;
  readonly topic: ControlTopic;
  /** For refusals: the id the reference reports. */
  readonly rule?: RequirementId;
  readonly deviceReady: boolean;
  readonly ports: readonly DevicePortCase[];
  /** `max_nr_ports` (default: the ports given). */
  readonly maxNrPorts?: number;
  readonly message: Uint8Array;
}

/** A fresh device table for a case. */
export function deviceState(c: DeviceCase): DeviceControlState {
  return {
    maxNrPorts: c.maxNrPorts ?? c.ports.length,
    deviceReady: c.deviceReady,
    ports: c.ports.map((p, id) => ({
      id,
      name: p.name ?? "",
      console: p.console ?? false,
      hostOpen: p.hostOpen ?? true,
      added: p.added ?? false,
      ready: p.ready ?? false,
      guestOpen: p.guestOpen ?? null,
    })),
  };
}

const READY = { added: true, ready: true } as const;
const ADDED = { added: true } as const;
const CONSOLE = { console: true } as const;

/** The device's cases: every answer the driver's three messages call for, and every refusal. */
export const DEVICE_CASES: readonly [DeviceCase][] = ([
  // DEVICE_READY(1): announce what is not announced yet.
  ["DEVICE_READY(1) on a fresh console of 1 port", "announce", false, [CONSOLE], msg(0, 0, 1)],
  [
    "DEVICE_READY(1) on a fresh console of 3 ports",
    "announce",
    false,
    [CONSOLE, {}, {}],
    msg(0, 0, 1),
  ],
  [
    "DEVICE_READY(1) with id 0xffffffff (NetBSD's)",
    "announce",
    false,
    [CONSOLE, {}],
    msg(-1, 0, 1),
  ],
  ["DEVICE_READY(1) when ports 0 and 2 are added", "announce", true, [
    { ...CONSOLE, ...READY },
    {},
    ADDED,
    {},
  ], msg(0, 0, 1)],
  [
    "DEVICE_READY(1) again, every port added",
    "announce",
    true,
    [{ ...CONSOLE, ...READY }, READY],
    msg(0, 0, 1),
  ],
  ["DEVICE_READY(0): the driver failed", "announce", false, [CONSOLE, {}], msg(0, 0, 0)],
  // PORT_READY(1): tell the port what it is.
  [
    "PORT_READY(0, 1) for the console port",
    "answer",
    true,
    [{ ...CONSOLE, ...ADDED }, ADDED],
    msg(0, 3, 1),
  ],
  ["PORT_READY(1, 1) for a named port", "answer", true, [CONSOLE, {
    name: "org.lab.echo",
    ...ADDED,
  }], msg(1, 3, 1)],
  ["PORT_READY(1, 1) for an unnamed port", "answer", true, [CONSOLE, ADDED], msg(1, 3, 1)],
  ["PORT_READY(1, 1), its host side closed", "answer", true, [CONSOLE, {
    name: "org.lab.log",
    hostOpen: false,
    ...ADDED,
  }], msg(1, 3, 1)],
  ["PORT_READY(2, 1) for a named console port", "answer", true, [CONSOLE, {}, {
    name: "hvc1",
    console: true,
    ...ADDED,
  }], msg(2, 3, 1)],
  ["PORT_READY(1, 0): the driver could not set the port up", "answer", true, [CONSOLE, {
    name: "org.lab.echo",
    ...ADDED,
  }], msg(1, 3, 0)],
  // PORT_NAME's bytes.
  ["PORT_READY(1, 1) for a port named in UTF-8", "name", true, [CONSOLE, {
    name: "capteur-ñ°µ-✓",
    ...ADDED,
  }], msg(1, 3, 1)],
  ["PORT_READY(3, 1) for org.qemu.guest_agent.0", "name", true, [CONSOLE, {}, {}, {
    name: "org.qemu.guest_agent.0",
    ...ADDED,
  }], msg(3, 3, 1)],
  // PORT_OPEN: the guest opened or closed a port.
  ["PORT_OPEN(1, 1)", "open", true, [CONSOLE, READY], msg(1, 6, 1)],
  [
    "PORT_OPEN(1, 0) after it was open",
    "open",
    true,
    [CONSOLE, { ...READY, guestOpen: true }],
    msg(1, 6, 0),
  ],
  [
    "PORT_OPEN(0, 1) answering CONSOLE_PORT",
    "open",
    true,
    [{ ...CONSOLE, ...READY }],
    msg(0, 6, 1),
  ],
  ["PORT_OPEN(0, 0) on the console port, later", "open", true, [{
    ...CONSOLE,
    ...READY,
    guestOpen: true,
  }], msg(0, 6, 0)],
  // Refusals.
  ["an empty message", "refuse", true, [CONSOLE], new Uint8Array(0), "5.3.6.2/D1"],
  [
    "a 6-byte PORT_READY(1) without its value",
    "refuse",
    true,
    [CONSOLE, ADDED],
    cut(msg(1, 3, 1), 6),
    "5.3.6.2/D1",
  ],
  ["a 7-byte DEVICE_READY(1)", "refuse", false, [CONSOLE], cut(msg(0, 0, 1), 7), "5.3.6.2/D1"],
  ["DEVICE_ADD(1) sent by the driver", "refuse", true, [CONSOLE, {}], msg(1, 1, 0), "5.3.6.2/D1"],
  ["PORT_NAME(0) sent by the driver", "refuse", true, [READY], msg(0, 7, 0, "x"), "5.3.6.2/D1"],
  ["event 8, which no version defines", "refuse", true, [READY], msg(0, 8, 1), "5.3.6.2/D1"],
  [
    "PORT_READY(1, 1) before DEVICE_READY",
    "refuse",
    false,
    [CONSOLE, ADDED],
    msg(1, 3, 1),
    "5.3.6.2.2/1",
  ],
  [
    "PORT_OPEN(1, 1) before DEVICE_READY",
    "refuse",
    false,
    [CONSOLE, READY],
    msg(1, 6, 1),
    "5.3.6.2.2/1",
  ],
  [
    "PORT_READY(1, 1) for a port never added",
    "refuse",
    true,
    [{ ...CONSOLE, ...READY }, {}],
    msg(1, 3, 1),
    "5.3.6.2/D2",
  ],
  [
    "PORT_READY(5, 1) past the table",
    "refuse",
    true,
    [{ ...CONSOLE, ...READY }, READY],
    msg(5, 3, 1),
    "5.3.6.2/D2",
  ],
  [
    "PORT_READY(1, 1) twice",
    "refuse",
    true,
    [{ ...CONSOLE, ...READY }, { name: "twice", ...READY }],
    msg(1, 3, 1),
    "5.3.6.2/D2",
  ],
  [
    "PORT_OPEN(1, 1) for a port added, not ready",
    "refuse",
    true,
    [{ ...CONSOLE, ...READY }, ADDED],
    msg(1, 6, 1),
    "5.3.6.2/D2",
  ],
  [
    "PORT_OPEN(0x10000, 1) past the table",
    "refuse",
    true,
    [{ ...CONSOLE, ...READY }],
    msg(0x1_0000, 6, 1),
    "5.3.6.2/D2",
  ],
  [
    "PORT_OPEN(0, 0) answering CONSOLE_PORT",
    "refuse",
    true,
    [{ ...CONSOLE, ...READY }],
    msg(0, 6, 0),
    "5.3.6.2.2/2",
  ],
] as const).map(([label, topic, deviceReady, ports, message, rule]) => [{
  label,
  topic,
  deviceReady,
  ports,
  message,
  rule: rule as RequirementId | undefined,
}]);

/** A driver case: the driver's table, the device's message, and what the case is about. */
export interface DriverCase {
  readonly label: string;
  readonly topic: ControlTopic | "add" | "remove" | "console" | "resize";
  readonly rule?: RequirementId;
  readonly deviceReadySent: boolean;
  readonly maxNrPorts: number;
  /** Ports added already, by id (with what the driver knows of them). */
  readonly ports: readonly { id: number; name?: string; console?: boolean; hostOpen?: boolean }[];
  readonly message: Uint8Array;
}

/** A fresh driver table for a case. */
export function driverState(c: DriverCase): DriverControlState {
  return {
    maxNrPorts: c.maxNrPorts,
    deviceReadySent: c.deviceReadySent,
    ports: c.ports.map((p) => ({
      id: p.id,
      name: p.name ?? null,
      console: p.console ?? false,
      hostOpen: p.hostOpen ?? false,
      guestOpen: p.console ?? false,
      size: null,
    })),
  };
}

const P0 = { id: 0, console: true };
const P1 = { id: 1 };

/** The driver's cases: every device message, at the edges of the port table, and every refusal. */
export const DRIVER_CASES: readonly [DriverCase][] = ([
  ["DEVICE_ADD(0) on an empty table", "add", 4, [], msg(0, 1, 0)],
  ["DEVICE_ADD(3) at max_nr_ports - 1", "add", 4, [P0], msg(3, 1, 0)],
  ["DEVICE_ADD(1) with value 1 (QEMU's)", "add", 2, [P0], msg(1, 1, 1)],
  ["DEVICE_ADD(1) when port 1 exists", "refuse", 4, [P0, P1], msg(1, 1, 0), "5.3.6.2.1/1"],
  ["DEVICE_ADD(4) at max_nr_ports", "refuse", 4, [P0], msg(4, 1, 0), "5.3.6.2.1/1"],
  ["DEVICE_ADD(0xffffffff)", "refuse", 4, [P0], msg(-1, 1, 0), "5.3.6.2.1/1"],
  ["DEVICE_REMOVE(1) of an added port", "remove", 4, [P0, P1, { id: 2 }], msg(1, 2, 0)],
  ["DEVICE_REMOVE(2) of a port never added", "refuse", 4, [P0, P1], msg(2, 2, 0), "5.3.6.2.1/2"],
  ["CONSOLE_PORT(0, 1)", "console", 2, [{ id: 0 }, P1], msg(0, 4, 1)],
  ["CONSOLE_PORT(1, 0): value unused", "console", 2, [P0, P1], msg(1, 4, 0)],
  ["PORT_NAME(1) org.lab.echo, without a NUL", "name", 2, [P0, P1], msg(1, 7, 0, "org.lab.echo")],
  [
    "PORT_NAME(1) with QEMU's NUL after it",
    "name",
    2,
    [P0, P1],
    msg(1, 7, 1, "org.qemu.guest_agent.0\0"),
  ],
  ["PORT_NAME(1) in UTF-8", "name", 2, [P0, P1], msg(1, 7, 0, "capteur-ñ°µ-✓")],
  [
    "PORT_NAME(1) renaming a named port",
    "name",
    2,
    [P0, { id: 1, name: "old" }],
    msg(1, 7, 0, "new"),
  ],
  ["PORT_OPEN(1, 1): the host connected", "open", 2, [P0, P1], msg(1, 6, 1)],
  ["PORT_OPEN(1, 0): the host went away", "open", 2, [P0, { id: 1, hostOpen: true }], msg(1, 6, 0)],
  [
    "RESIZE(0) 132 columns, 43 rows",
    "resize",
    2,
    [P0, P1],
    withTail(msg(0, 5, 0), [132, 0, 43, 0]),
  ],
  [
    "RESIZE(1) 0x1234 columns, 0xabcd rows",
    "resize",
    2,
    [P0, P1],
    withTail(msg(1, 5, 0), [0x34, 0x12, 0xcd, 0xab]),
  ],
  [
    "RESIZE(0) with 2 of its 4 bytes",
    "refuse",
    2,
    [P0],
    withTail(msg(0, 5, 0), [80, 0]),
    "5.3.6.2/D3",
  ],
  ["an empty message (len 0)", "refuse", 2, [P0], new Uint8Array(0), "5.3.6.2/D3"],
  [
    "a 6-byte DEVICE_ADD(1) without its value",
    "refuse",
    4,
    [P0],
    cut(msg(1, 1, 0), 6),
    "5.3.6.2/D3",
  ],
  ["PORT_READY(0, 1) sent by the device", "refuse", 2, [P0], msg(0, 3, 1), "5.3.6.2/D3"],
  ["event 8, which no version defines", "refuse", 2, [P0], msg(0, 8, 0), "5.3.6.2/D3"],
  ["CONSOLE_PORT(1) for a port never added", "refuse", 4, [P0], msg(1, 4, 1), "5.3.6.2/D4"],
  [
    "PORT_NAME(2) for a port never added",
    "refuse",
    4,
    [P0, P1],
    msg(2, 7, 0, "ghost"),
    "5.3.6.2/D4",
  ],
  ["PORT_OPEN(3, 1) for a port never added", "refuse", 4, [P0], msg(3, 6, 1), "5.3.6.2/D4"],
  [
    "RESIZE(1) for a port never added",
    "refuse",
    4,
    [P0],
    withTail(msg(1, 5, 0), [80, 0, 25, 0]),
    "5.3.6.2/D4",
  ],
] as const).map(([label, topic, maxNrPorts, ports, message, rule]) =>
  [{
    label,
    topic,
    deviceReadySent: true,
    maxNrPorts,
    ports,
    message,
    rule: rule as RequirementId | undefined,
  }] as [DriverCase]
).concat([[{
  label: "DEVICE_ADD(1) before the driver sent DEVICE_READY",
  topic: "refuse",
  rule: "5.3.6.2/D5",
  deviceReadySent: false,
  maxNrPorts: 2,
  ports: [],
  message: msg(1, 1, 0),
}], [{
  label: "CONSOLE_PORT(0) before the driver sent DEVICE_READY",
  topic: "refuse",
  rule: "5.3.6.2/D5",
  deviceReadySent: false,
  maxNrPorts: 2,
  ports: [],
  message: msg(0, 4, 1),
}]]);

/** A control message: id (-1 for 0xffffffff), event, value, and a name after it. */
function msg(id: number, event: number, value: number, name?: string): Uint8Array {
  return encodeControl(id < 0 ? 0xffff_ffff : id, event, value, name ? utf8(name) : undefined);
}

function withTail(head: Uint8Array, tail: number[]): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

// ---------------------------------------------------------------- the runs

/** One run of a side's step, in comparable form. */
export interface ControlRun {
  /** `"returned"`, or what was thrown. */
  readonly outcome: string;
  /** The answers in words, sorted; unused fields left out (see {@linkcode describeAnswer}). */
  readonly answers: readonly string[];
  /** Whether every answer is a whole message of an event the answering side sends. */
  readonly wellFormed: boolean;
  /** The table afterwards, in words (ports by id). */
  readonly table: string;
  /** The ids reported, sorted, each once. */
  readonly reported: readonly string[];
}

const DEVICE_EVENTS = new Set([
  DEVICE_ADD,
  DEVICE_REMOVE,
  CONSOLE_PORT,
  RESIZE,
  PORT_OPEN,
  PORT_NAME,
]);
const DRIVER_EVENTS = new Set([DEVICE_READY, PORT_READY, PORT_OPEN]);

/**
 * An answer in words, leaving out what the spec leaves unused: the value of
 * DEVICE_ADD, CONSOLE_PORT and PORT_NAME, and the id of DEVICE_READY.
 * PORT_NAME shows its bytes after the header, a NUL included.
 */
export function describeAnswer(bytes: unknown): string {
  if (!(bytes instanceof Uint8Array)) return `not a Uint8Array (${typeof bytes})`;
  const c = decodeControl(bytes);
  if (!c) return `${bytes.length} byte(s), shorter than a message`;
  const name = (VIRTIO_CONSOLE_CONTROL_EVENT_NAMES[c.event] ?? `event ${c.event}`).replace(
    "VIRTIO_CONSOLE_",
    "",
  );
  switch (c.event) {
    case DEVICE_READY:
      return `${name}(value ${c.value})${bytes.length > 8 ? ` + ${bytes.length - 8} bytes` : ""}`;
    case DEVICE_ADD:
    case CONSOLE_PORT:
      return `${name}(${c.id})${bytes.length > 8 ? ` + ${bytes.length - 8} bytes` : ""}`;
    case PORT_NAME:
      return `${name}(${c.id}) ${JSON.stringify(new TextDecoder().decode(bytes.subarray(8)))}`;
    default:
      return `${name}(${c.id}, ${c.value})${
        bytes.length > 8 ? ` + ${bytes.length - 8} bytes` : ""
      }`;
  }
}

function run<S>(
  state: S,
  step: (state: S, message: Uint8Array, reporter: ConformanceReporter) => unknown,
  message: Uint8Array,
  events: ReadonlySet<number>,
  table: (state: S) => string,
): ControlRun {
  const log = new ConformanceLog();
  const o = attempt(() => step(state, message.slice(), new ConformanceReporter(log, "grader")));
  const returned = "returned" in o ? o.returned : undefined;
  const list = Array.isArray(returned) ? returned : [];
  return {
    outcome: "returned" in o
      ? (Array.isArray(returned) ? "returned" : `returned ${typeof returned}, not an array`)
      : `threw ${thrown(o.threw)}`,
    answers: list.map(describeAnswer).sort(),
    wellFormed: list.every((a) => {
      const c = a instanceof Uint8Array ? decodeControl(a) : null;
      return c !== null && events.has(c.event) && (c.event !== RESIZE || a.length >= 12);
    }),
    table: table(state),
    reported: [...new Set(log.entries.map((v) => v.id))].sort(),
  };
}

/** `handleDriverMessage` on a device case. */
export function runDeviceStep(
  step: (state: DeviceControlState, message: Uint8Array, reporter: ConformanceReporter) => unknown,
  c: DeviceCase,
): ControlRun {
  return run(
    deviceState(c),
    step,
    c.message,
    DEVICE_EVENTS,
    (s) =>
      `deviceReady ${s.deviceReady}; ` +
      s.ports.map((p) =>
        `port ${p.id}: ${p.added ? "added" : "not added"}, ${p.ready ? "ready" : "not ready"}, ` +
        `guest ${p.guestOpen === null ? "silent" : p.guestOpen ? "open" : "closed"}`
      ).join("; "),
  );
}

/** `handleControlMessage` on a driver case. */
export function runDriverStep(
  step: (state: DriverControlState, message: Uint8Array, reporter: ConformanceReporter) => unknown,
  c: DriverCase,
): ControlRun {
  return run(
    driverState(c),
    step,
    c.message,
    DRIVER_EVENTS,
    (s) =>
      [...s.ports].sort((a, b) => a.id - b.id).map((p) =>
        `port ${p.id}: name ${JSON.stringify(p.name)}, ${p.console ? "console" : "not console"}, ` +
        `host ${p.hostOpen ? "open" : "closed"}, guest ${p.guestOpen ? "open" : "closed"}, ` +
        `size ${p.size ? `${p.size.cols}x${p.size.rows}` : "none"}`
      ).join("; ") || "no ports",
  );
}

/** A run in words, for a failure message. */
export function showRun(r: ControlRun): string {
  const reported = r.reported.length ? `reported ${r.reported.join(", ")}` : "reported nothing";
  const did = r.outcome === "returned" ? `returned [${r.answers.join(", ")}]` : r.outcome;
  return `${did}; ${reported}; then ${r.table}`;
}
