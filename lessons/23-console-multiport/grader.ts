/**
 * The grader of "Console ports".
 *
 * Device side: `handleDriverMessage` on port tables in every state the
 * conversation reaches (fresh, some ports announced, ready, open), with
 * every message a driver sends and every mistake one makes (short messages,
 * device events, messages before DEVICE_READY, ports unknown, not added,
 * ready twice, a console port answered with PORT_OPEN 0): its answers
 * decoded with the unused fields left out and in a fixed order, its table
 * afterwards, the ids it reported.
 *
 * Driver side: `deviceReadyMessage` once; `handleControlMessage` with every
 * message a device sends, at the edges of `max_nr_ports`, QEMU's PORT_NAME
 * with its NUL, names in UTF-8, RESIZE short and whole, and every mistake a
 * device makes. Last, the lab machine with a second port: the conversation
 * runs on the three functions, both sides, and bytes go out and come back on
 * the second port.
 *
 * @module
 */

import { defineGrader, expectEqual, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import * as ref from "./reference.ts";
import { EchoConsoleBackend } from "../../devices/console/backends.ts";
import type { VirtioConsoleDevice } from "../../devices/console/device.ts";
import { decodeControl, type DriverControlState } from "../../devices/console/control.ts";
import { attempt, every, ruleFor } from "../kit/rules.ts";
import { machineCheck, within } from "../kit/machine.ts";
import {
  type ControlRun,
  DEVICE_CASES,
  type DeviceCase,
  DRIVER_CASES,
  type DriverCase,
  runDeviceStep,
  runDriverStep,
  showRun,
} from "../kit/control.ts";

type Impl = typeof Exercise;

const QEMU_NUL = "QEMU sends PORT_NAME with a NUL after the name (hw/char/virtio-serial-bus.c, " +
  "handle_control_message): the spec says without one, and a driver must stop at it. " +
  "The case file of this lesson.";
const VIOCON_OPEN = "NetBSD's viocon (rev. 1.10) makes a CONSOLE_PORT its console without " +
  "answering PORT_OPEN(1): the case file of this lesson.";
const VIOCON_VALUE = "NetBSD's viocon (rev. 1.10) marks the host side open on every PORT_OPEN, " +
  "whatever its value (`value __unused`): the case file of this lesson.";

// ------------------------------------------------------------ device side

const device = ruleFor<Impl, [DeviceCase], ControlRun>({
  run: (impl, c) => runDeviceStep(impl.handleDriverMessage, c),
  reference: (c) => runDeviceStep(ref.handleDriverMessage, c),
  key: (c) => c.label,
  show: (c) => `handleDriverMessage on ${c.label}`,
  result: showRun,
}, { cases: every(DEVICE_CASES), hint: 2 });
const deviceTopic = (...topics: string[]) =>
  every(DEVICE_CASES.filter(([c]) => topics.includes(c.topic)));
const deviceRefusal = (rule: string) => every(DEVICE_CASES.filter(([c]) => c.rule === rule));

// ------------------------------------------------------------ driver side

const driver = ruleFor<Impl, [DriverCase], ControlRun>({
  run: (impl, c) => runDriverStep(impl.handleControlMessage, c),
  reference: (c) => runDriverStep(ref.handleControlMessage, c),
  key: (c) => c.label,
  show: (c) => `handleControlMessage on ${c.label}`,
  result: showRun,
}, { cases: every(DRIVER_CASES), hint: 2 });
const driverTopic = (...topics: string[]) =>
  every(DRIVER_CASES.filter(([c]) => topics.includes(c.topic)));
const driverRefusal = (rule: string) => every(DRIVER_CASES.filter(([c]) => c.rule === rule));

/** A refusal: nothing answered, nothing changed, the id reported, nothing thrown. */
const refused = (r: ControlRun) => ({
  outcome: r.outcome,
  answers: r.answers,
  table: r.table,
  reported: r.reported,
});

const ready = ruleFor<Impl, [number], { bytes: string; sent: string; thrown: string }>({
  run: (impl) => observeReady(impl.deviceReadyMessage),
  reference: () => observeReady(ref.deviceReadyMessage),
  show: () => "deviceReadyMessage on a fresh table",
  result: (r) => `${r.thrown || `returned ${r.bytes}`}; then deviceReadySent is ${r.sent}`,
}, { cases: every([[0]]), hint: 3 });

function observeReady(step: Impl["deviceReadyMessage"]) {
  const state: DriverControlState = { maxNrPorts: 2, deviceReadySent: false, ports: [] };
  const o = attempt(() => step(state));
  if (!("returned" in o)) {
    return { bytes: "", sent: String(state.deviceReadySent), thrown: "threw" };
  }
  const bytes = o.returned;
  const c = bytes instanceof Uint8Array ? decodeControl(bytes) : null;
  return {
    bytes: c && bytes.length === 8
      ? `8 bytes: event ${c.event}, value ${c.value}`
      : `${bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes}`,
    sent: String(state.deviceReadySent),
    thrown: "",
  };
}

export const grader = defineGrader<Impl>({
  lesson: "console-multiport",
  checks: [
    device({
      name: "every answer is a whole little-endian message of a device event",
      requirement: "5.3.6.2/D3",
      verdict: (r) => ({ outcome: r.outcome, wellFormed: r.wellFormed }),
      why: "an array of Uint8Arrays, each an 8-byte struct virtio_console_control (le32 id, " +
        "le16 event, le16 value) of DEVICE_ADD, CONSOLE_PORT, PORT_OPEN or PORT_NAME",
    }),
    device({
      name: "DEVICE_READY(1) announces every port not announced yet, once",
      requirement: "5.3.6.2.1/1",
      hint: 3,
      cases: deviceTopic("announce"),
      verdict: (r) => ({ answers: r.answers, table: r.table, reported: r.reported }),
      why: "one DEVICE_ADD per port not added, each port then added and deviceReady set; " +
        "nothing for DEVICE_READY(0), whatever the id",
    }),
    device({
      name: "PORT_READY(1) is answered with what the port is",
      requirement: "5.3.6.2/D4",
      hint: 3,
      cases: deviceTopic("answer"),
      verdict: (r) => ({ answers: r.answers, table: r.table, reported: r.reported }),
      why: "CONSOLE_PORT for a console, PORT_NAME for a name, PORT_OPEN(port, 1) for an open " +
        "host side, all naming that port, and the port ready; nothing for PORT_READY(0)",
      note: (got) => got.answers.some((a) => a.includes("\\u0000")) ? QEMU_NUL : undefined,
    }),
    device({
      name: "PORT_NAME carries the name in UTF-8, without a NUL",
      requirement: "5.3.6.2/D3",
      cases: deviceTopic("name"),
      verdict: (r) => r.answers.filter((a) => a.startsWith("PORT_NAME")),
      why: "the name's UTF-8 bytes right after the 8-byte header, and nothing more",
      note: (got) => got.answers.some((a) => a.includes("\\u0000")) ? QEMU_NUL : undefined,
    }),
    device({
      name: "PORT_OPEN records whether the guest has the port open",
      requirement: "5.3.6.2.2/2",
      cases: deviceTopic("open"),
      verdict: (r) => ({ answers: r.answers, table: r.table, reported: r.reported }),
      why: "guestOpen set to value === 1, nothing answered, nothing reported",
    }),
    device({
      name: "a short message, or an event a driver does not send, is refused",
      requirement: "5.3.6.2/D1",
      cases: deviceRefusal("5.3.6.2/D1"),
      verdict: refused,
      why: "5.3.6.2/D1 reported, nothing answered, the table unchanged, nothing thrown",
    }),
    device({
      name: "PORT_READY and PORT_OPEN before DEVICE_READY are refused",
      requirement: "5.3.6.2.2/1",
      cases: deviceRefusal("5.3.6.2.2/1"),
      verdict: refused,
      why: "5.3.6.2.2/1 reported, nothing answered (no port is announced before DEVICE_READY), " +
        "the table unchanged",
    }),
    device({
      name: "PORT_READY and PORT_OPEN name a port in the right state, or are refused",
      requirement: "5.3.6.2/D2",
      cases: deviceRefusal("5.3.6.2/D2"),
      verdict: refused,
      why: "5.3.6.2/D2 reported for a port not in the table, not added, ready twice, or opened " +
        "before it was ready; nothing answered, the table unchanged, nothing thrown",
    }),
    device({
      name: "a console port answered with PORT_OPEN(0) is reported",
      requirement: "5.3.6.2.2/2",
      cases: deviceRefusal("5.3.6.2.2/2"),
      verdict: (r) => ({ answers: r.answers, table: r.table, reported: r.reported }),
      why: "5.3.6.2.2/2 reported, and the port recorded as the driver said: closed",
    }),
    ready({
      name: "deviceReadyMessage is DEVICE_READY(1), recorded as sent",
      requirement: "5.3.6.2.2/1",
      verdict: (r) => r,
      why: "8 bytes: event 0 (DEVICE_READY), value 1, any id; and deviceReadySent true",
    }),
    driver({
      name: "every answer is a whole little-endian message of a driver event",
      requirement: "5.3.6.2/D1",
      verdict: (r) => ({ outcome: r.outcome, wellFormed: r.wellFormed }),
      why: "an array of Uint8Arrays, each an 8-byte struct virtio_console_control of " +
        "PORT_READY or PORT_OPEN",
    }),
    driver({
      name: "DEVICE_ADD adds the port and is answered with PORT_READY(port, 1)",
      requirement: "5.3.6.2/D2",
      hint: 3,
      cases: driverTopic("add"),
      verdict: (r) => ({ answers: r.answers, table: r.table, reported: r.reported }),
      why: "a new port with no name, not a console, both sides closed, no size; " +
        "PORT_READY(port, 1) answered",
    }),
    driver({
      name: "DEVICE_ADD of a port that exists, or at max_nr_ports or past it, is refused",
      requirement: "5.3.6.2.1/1",
      cases: driverRefusal("5.3.6.2.1/1"),
      verdict: refused,
      why: "5.3.6.2.1/1 reported, no PORT_READY, the table unchanged",
    }),
    driver({
      name: "DEVICE_REMOVE removes an added port, and refuses any other",
      requirement: "5.3.6.2.1/2",
      cases: every(DRIVER_CASES.filter(([c]) => c.topic === "remove" || c.rule === "5.3.6.2.1/2")),
      verdict: refused,
      why: "the port gone and nothing answered; for a port never added, 5.3.6.2.1/2 reported " +
        "and the table unchanged",
    }),
    driver({
      name: "CONSOLE_PORT is answered with PORT_OPEN(port, 1)",
      requirement: "5.3.6.2.2/2",
      hint: 3,
      cases: driverTopic("console"),
      verdict: (r) => ({ answers: r.answers, table: r.table, reported: r.reported }),
      why: "PORT_OPEN with value 1 for that port, and the port a console, open on the guest side",
      note: (got) => got.answers.some((a) => a.startsWith("PORT_OPEN")) ? undefined : VIOCON_OPEN,
    }),
    driver({
      name: "PORT_NAME's name is the UTF-8 text after the header, up to a NUL",
      requirement: "5.3.6.2/D3",
      cases: driverTopic("name"),
      verdict: (r) => ({ answers: r.answers, table: r.table, reported: r.reported }),
      why: "the bytes after the 8-byte header, decoded as UTF-8, cut at a NUL",
      note: (got, want) =>
        got.table !== want.table && got.table.includes("\\u0000") ? QEMU_NUL : undefined,
    }),
    driver({
      name: "PORT_OPEN's value says whether the host side is open",
      requirement: "5.3.6.2/D3",
      cases: driverTopic("open"),
      verdict: (r) => ({ answers: r.answers, table: r.table, reported: r.reported }),
      why: "hostOpen set to value === 1, nothing answered",
      note: () => VIOCON_VALUE,
    }),
    driver({
      name: "RESIZE carries cols, then rows",
      requirement: "5.3.6.2/D3",
      cases: driverTopic("resize"),
      verdict: (r) => ({ answers: r.answers, table: r.table, reported: r.reported }),
      why: "size { cols, rows } from the le16 cols and le16 rows after the header, in that order " +
        "(struct virtio_console_resize)",
    }),
    driver({
      name: "a short message, an event a device does not send, a short RESIZE, is refused",
      requirement: "5.3.6.2/D3",
      cases: driverRefusal("5.3.6.2/D3"),
      verdict: refused,
      why: "5.3.6.2/D3 reported, nothing answered, the table unchanged, nothing thrown",
    }),
    driver({
      name: "a message about a port never added is refused",
      requirement: "5.3.6.2/D4",
      cases: driverRefusal("5.3.6.2/D4"),
      verdict: refused,
      why: "5.3.6.2/D4 reported, nothing answered, the table unchanged, nothing thrown",
    }),
    driver({
      name: "nothing is taken before the driver sent DEVICE_READY",
      requirement: "5.3.6.2/D5",
      cases: driverRefusal("5.3.6.2/D5"),
      verdict: refused,
      why: "5.3.6.2/D5 reported, nothing answered, the table unchanged",
    }),
    machineCheck<Impl>({
      id: "console-multiport",
      requirement: "5.3.6.2.2/1",
      hint: 4,
      expects: "the ports announced after DEVICE_READY, each made ready and named, the console " +
        "port opened, and a second port carrying bytes both ways",
      lesson,
      consolePorts: () => [{ name: "org.lab.echo", backend: new EchoConsoleBackend() }],
      also: async (machine) => {
        const guest = machine.console.driver!;
        const model = machine.console.device as VirtioConsoleDevice;
        expectEqual(
          guest.ports.map((p) => `${p.id} ${p.name ?? "(no name)"}`).join(", "),
          "0 (no name), 1 org.lab.echo",
          "the ports the driver knows after the bring-up",
          { requirement: "5.3.6.2/D3", hint: 3 },
        );
        expectEqual(
          model.ports.map((p) => `${p.id}: ${p.ready ? "ready" : "not ready"}`).join(", "),
          "0: ready, 1: ready",
          "the ports as the device sees them (PORT_READY(1) for each)",
          { requirement: "5.3.6.2/D2", hint: 3 },
        );
        if (!model.ports[0].guestOpen) {
          fail({
            observed: "the console port was never opened: no PORT_OPEN(0, 1) reached the device",
            expected: "PORT_OPEN(0, 1) in answer to CONSOLE_PORT",
            requirement: "5.3.6.2.2/2",
            hint: 2,
            note: VIOCON_OPEN,
          });
        }
        const port = guest.port("org.lab.echo")!;
        await port.setOpen(true);
        await port.write("ping on port 1\n");
        const reader = port.readable.getReader();
        try {
          let got = "";
          while (got.length < 15) {
            const { value, done } = await within(
              reader.read(),
              3000,
              "reading port 1",
              "the echo of what the guest sent on port 1",
              machine,
            );
            if (done) break;
            got += new TextDecoder().decode(value);
          }
          expectEqual(got, "ping on port 1\n", "what came back on port 1");
        } finally {
          reader.releaseLock();
        }
        expectEqual(
          model.ports[1].stats.bytesOut,
          15,
          "bytes the device sent to port 1's backend (the line written on port 1, nothing else)",
        );
      },
    }),
  ],
});
