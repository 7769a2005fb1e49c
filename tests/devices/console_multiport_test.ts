// VIRTIO_CONSOLE_F_MULTIPORT (§5.3.6.2): the control conversation on both
// sides, ports on their own backends, and each side's checks of the other.

import assert from "node:assert/strict";
import {
  decodeControl,
  describeControl,
  type DeviceControlState,
  deviceReadyMessage,
  type DriverControlState,
  EchoConsoleBackend,
  encodeControl,
  handleControlMessage,
  handleDriverMessage,
  MemoryConsoleBackend,
  VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS,
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_DEVICE_REMOVE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_PORT_NAME,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_RESIZE,
  VirtioConsoleDevice,
  type VirtioConsoleDeviceOptions,
  VirtioConsoleDriver,
} from "../../devices/mod.ts";
import { ConformanceLog, ConformanceReporter } from "../../conformance/log.ts";

/** A log and a reporter into it, as a transport hands a part. */
function logged(): { log: ConformanceLog; reporter: ConformanceReporter } {
  const log = new ConformanceLog();
  return { log, reporter: new ConformanceReporter(log, "test") };
}
import { features, hasFeature, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";
import { createMachine } from "../../machine.ts";
import { buildStack, readBytes, registration } from "./_stack.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const utf8 = (s: string) => new TextEncoder().encode(s);

function deviceState(ports: { name?: string; console?: boolean }[]): DeviceControlState {
  return {
    maxNrPorts: ports.length,
    deviceReady: false,
    ports: ports.map((p, id) => ({
      id,
      name: p.name ?? "",
      console: p.console ?? false,
      hostOpen: true,
      added: false,
      ready: false,
      guestOpen: null,
    })),
  };
}

function driverState(maxNrPorts = 4): DriverControlState {
  return { maxNrPorts, deviceReadySent: true, ports: [] };
}

async function multiportStack(
  extra: { name: string; backend: MemoryConsoleBackend | EchoConsoleBackend }[],
  driver = new VirtioConsoleDriver(),
  deviceParts?: VirtioConsoleDeviceOptions["parts"],
) {
  const backend = new MemoryConsoleBackend();
  const device = new VirtioConsoleDevice(backend, {
    ports: extra,
    consoleName: "console",
    parts: deviceParts,
  });
  const stack = await buildStack<VirtioConsoleDriver>(device, registration(driver));
  await stack.settle();
  return { device, backend, ...stack };
}

// ---------------------------------------------------------------- the parts

Deno.test("encodeControl and decodeControl: struct virtio_console_control, little-endian", () => {
  const bytes = encodeControl(0x0102_0304, VIRTIO_CONSOLE_PORT_NAME, 0x0506, utf8("ab"));
  assert.deepEqual([...bytes], [4, 3, 2, 1, 7, 0, 6, 5, 0x61, 0x62]);
  assert.deepEqual(decodeControl(bytes), { id: 0x0102_0304, event: 7, value: 0x0506 });
  assert.equal(decodeControl(bytes.subarray(0, 7)), null);
  assert.equal(describeControl(bytes), 'PORT_NAME(id 16909060, value 1286) "ab"');
  assert.throws(() => encodeControl(0, 0x1_0000, 0), RangeError);
  assert.throws(() => encodeControl(-1, 0, 0), RangeError);
});

Deno.test("handleDriverMessage: DEVICE_READY adds every port once, PORT_READY answers in QEMU's order", () => {
  const state = deviceState([{ console: true }, { name: "org.lab.echo" }]);
  const { log, reporter } = logged();
  const names = (out: Uint8Array[]) => out.map(describeControl);
  assert.deepEqual(names(handleDriverMessage(state, encodeControl(0, 0, 1), reporter)), [
    "DEVICE_ADD(id 0, value 0)",
    "DEVICE_ADD(id 1, value 0)",
  ]);
  assert.equal(state.deviceReady, true);
  // A second DEVICE_READY adds nothing twice (5.3.6.2.1/1 binds the device).
  assert.deepEqual(handleDriverMessage(state, encodeControl(0, 0, 1), reporter), []);
  assert.deepEqual(names(handleDriverMessage(state, encodeControl(0, 3, 1), reporter)), [
    "CONSOLE_PORT(id 0, value 1)",
    "PORT_OPEN(id 0, value 1)",
  ]);
  assert.deepEqual(names(handleDriverMessage(state, encodeControl(1, 3, 1), reporter)), [
    'PORT_NAME(id 1, value 0) "org.lab.echo"',
    "PORT_OPEN(id 1, value 1)",
  ]);
  assert.deepEqual(handleDriverMessage(state, encodeControl(1, 6, 1), reporter), []);
  assert.equal(state.ports[1].guestOpen, true);
  handleDriverMessage(state, encodeControl(1, 6, 0), reporter);
  assert.equal(state.ports[1].guestOpen, false);
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("handleDriverMessage: PORT_READY with value 0 leaves the port unready and unanswered", () => {
  const state = deviceState([{ console: true }, {}]);
  const { log, reporter } = logged();
  handleDriverMessage(state, encodeControl(0, VIRTIO_CONSOLE_DEVICE_READY, 1), reporter);
  assert.deepEqual(
    handleDriverMessage(state, encodeControl(1, VIRTIO_CONSOLE_PORT_READY, 0), reporter),
    [],
  );
  assert.equal(state.ports[1].ready, false);
  assert.equal(log.entries.length, 0);
});

Deno.test("handleDriverMessage: each driver mistake is reported with its id and answered with nothing", () => {
  const cases: [string, (s: DeviceControlState) => void, Uint8Array, string][] = [
    ["a 7-byte message", () => {}, new Uint8Array(7), "5.3.6.2/D1"],
    [
      "an event only a device sends",
      () => {},
      encodeControl(1, VIRTIO_CONSOLE_DEVICE_ADD, 0),
      "5.3.6.2/D1",
    ],
    ["an unknown event", () => {}, encodeControl(0, 99, 0), "5.3.6.2/D1"],
    ["PORT_READY before DEVICE_READY", () => {}, encodeControl(1, 3, 1), "5.3.6.2.2/1"],
    ["PORT_OPEN before DEVICE_READY", () => {}, encodeControl(1, 6, 1), "5.3.6.2.2/1"],
    [
      "PORT_READY for a port never added",
      (s) => {
        s.deviceReady = true;
      },
      encodeControl(1, 3, 1),
      "5.3.6.2/D2",
    ],
    [
      "PORT_READY for a port beyond the table",
      (s) => {
        s.deviceReady = true;
      },
      encodeControl(7, 3, 1),
      "5.3.6.2/D2",
    ],
    [
      "PORT_READY twice",
      (s) => {
        s.deviceReady = true;
        s.ports[1].added = true;
        s.ports[1].ready = true;
      },
      encodeControl(1, 3, 1),
      "5.3.6.2/D2",
    ],
    [
      "PORT_OPEN for a port not ready",
      (s) => {
        s.deviceReady = true;
        s.ports[1].added = true;
      },
      encodeControl(1, 6, 1),
      "5.3.6.2/D2",
    ],
    [
      "a console port answered with PORT_OPEN 0",
      (s) => {
        s.deviceReady = true;
        s.ports[0].added = true;
        s.ports[0].ready = true;
      },
      encodeControl(0, 6, 0),
      "5.3.6.2.2/2",
    ],
  ];
  for (const [what, arrange, message, id] of cases) {
    const state = deviceState([{ console: true }, {}]);
    arrange(state);
    const { log, reporter } = logged();
    const out = handleDriverMessage(state, message, reporter);
    assert.deepEqual(out, [], what);
    assert.deepEqual(log.entries.map((e) => e.id), [id], what);
  }
});

Deno.test("deviceReadyMessage: DEVICE_READY(0, 1), recorded as sent", () => {
  const state: DriverControlState = { maxNrPorts: 2, deviceReadySent: false, ports: [] };
  assert.deepEqual(decodeControl(deviceReadyMessage(state)), { id: 0, event: 0, value: 1 });
  assert.equal(state.deviceReadySent, true);
});

Deno.test("handleControlMessage: ports come and go, CONSOLE_PORT is answered with PORT_OPEN 1", () => {
  const state = driverState(3);
  const { log, reporter } = logged();
  const names = (out: Uint8Array[]) => out.map(describeControl);
  assert.deepEqual(names(handleControlMessage(state, encodeControl(0, 1, 0), reporter)), [
    "PORT_READY(id 0, value 1)",
  ]);
  assert.deepEqual(names(handleControlMessage(state, encodeControl(2, 1, 0), reporter)), [
    "PORT_READY(id 2, value 1)",
  ]);
  assert.deepEqual(names(handleControlMessage(state, encodeControl(0, 4, 1), reporter)), [
    "PORT_OPEN(id 0, value 1)",
  ]);
  assert.equal(state.ports[0].console, true);
  assert.equal(state.ports[0].guestOpen, true);
  handleControlMessage(state, encodeControl(2, 7, 0, utf8("org.lab.échø")), reporter);
  assert.equal(state.ports[1].name, "org.lab.échø");
  // QEMU's PORT_NAME ends with a NUL (hw/char/virtio-serial-bus.c); the name stops there.
  handleControlMessage(state, encodeControl(2, 7, 1, utf8("org.qemu.guest_agent.0\0")), reporter);
  assert.equal(state.ports[1].name, "org.qemu.guest_agent.0");
  handleControlMessage(state, encodeControl(2, 6, 1), reporter);
  assert.equal(state.ports[1].hostOpen, true);
  handleControlMessage(state, encodeControl(2, 6, 0), reporter);
  assert.equal(state.ports[1].hostOpen, false);
  const resize = encodeControl(0, VIRTIO_CONSOLE_RESIZE, 0, new Uint8Array([80, 0, 25, 0]));
  handleControlMessage(state, resize, reporter);
  assert.deepEqual(state.ports[0].size, { cols: 80, rows: 25 });
  assert.deepEqual(
    handleControlMessage(state, encodeControl(2, VIRTIO_CONSOLE_DEVICE_REMOVE, 0), reporter),
    [],
  );
  assert.deepEqual(state.ports.map((p) => p.id), [0]);
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("handleControlMessage: each device mistake is reported with its id and answered with nothing", () => {
  const withPort = (s: DriverControlState) => {
    s.ports.push({
      id: 1,
      name: null,
      console: false,
      hostOpen: false,
      guestOpen: false,
      size: null,
    });
  };
  const cases: [string, (s: DriverControlState) => void, Uint8Array, string][] = [
    [
      "a message before DEVICE_READY",
      (s) => {
        s.deviceReadySent = false;
      },
      encodeControl(1, 1, 0),
      "5.3.6.2/D5",
    ],
    ["a 4-byte message", () => {}, new Uint8Array(4), "5.3.6.2/D3"],
    ["an empty message", () => {}, new Uint8Array(0), "5.3.6.2/D3"],
    [
      "an event only a driver sends",
      () => {},
      encodeControl(0, VIRTIO_CONSOLE_PORT_READY, 1),
      "5.3.6.2/D3",
    ],
    ["DEVICE_ADD of a port that exists", withPort, encodeControl(1, 1, 0), "5.3.6.2.1/1"],
    ["DEVICE_ADD at max_nr_ports", () => {}, encodeControl(4, 1, 0), "5.3.6.2.1/1"],
    ["DEVICE_ADD far past max_nr_ports", () => {}, encodeControl(0xffff_ffff, 1, 0), "5.3.6.2.1/1"],
    ["DEVICE_REMOVE of a port never added", () => {}, encodeControl(1, 2, 0), "5.3.6.2.1/2"],
    [
      "CONSOLE_PORT for a port never added",
      () => {},
      encodeControl(1, VIRTIO_CONSOLE_CONSOLE_PORT, 1),
      "5.3.6.2/D4",
    ],
    ["PORT_NAME for a port never added", () => {}, encodeControl(1, 7, 0, utf8("x")), "5.3.6.2/D4"],
    [
      "PORT_OPEN for a port never added",
      () => {},
      encodeControl(1, VIRTIO_CONSOLE_PORT_OPEN, 1),
      "5.3.6.2/D4",
    ],
    [
      "RESIZE without its 4 bytes",
      withPort,
      encodeControl(1, VIRTIO_CONSOLE_RESIZE, 0),
      "5.3.6.2/D3",
    ],
  ];
  for (const [what, arrange, message, id] of cases) {
    const state = driverState(4);
    arrange(state);
    const before = state.ports.length;
    const { log, reporter } = logged();
    assert.deepEqual(handleControlMessage(state, message, reporter), [], what);
    assert.deepEqual(log.entries.map((e) => e.id), [id], what);
    assert.equal(state.ports.length, before, what);
  }
});

// ------------------------------------------------------------ the whole stack

Deno.test("multiport: offered only with more ports; max_nr_ports and 2 * max + 2 queues", () => {
  const single = new VirtioConsoleDevice(new MemoryConsoleBackend());
  assert.equal(hasFeature(single.deviceFeatures, VIRTIO_CONSOLE_F_MULTIPORT), false);
  assert.equal(single.queueMaxSizes.length, 2);
  assert.equal(single.control, null);
  const multi = new VirtioConsoleDevice(new MemoryConsoleBackend(), {
    ports: [{ name: "a", backend: new MemoryConsoleBackend() }],
    maxNrPorts: 4,
  });
  assert.equal(hasFeature(multi.deviceFeatures, VIRTIO_CONSOLE_F_MULTIPORT), true);
  assert.equal(multi.readConfig(VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS, 4), 4);
  assert.equal(multi.queueMaxSizes.length, 10);
  assert.throws(
    () =>
      new VirtioConsoleDevice(new MemoryConsoleBackend(), {
        ports: [{ backend: new MemoryConsoleBackend() }],
        maxNrPorts: 1,
      }),
    RangeError,
  );
});

Deno.test("multiport: the driver sees every port with its name, port 0 as the console", async () => {
  const echo = new EchoConsoleBackend();
  const log = new MemoryConsoleBackend();
  const { driver, device, log: conformance, shutdown } = await multiportStack([
    { name: "org.lab.echo", backend: echo },
    { name: "org.lab.log", backend: log },
  ]);
  try {
    assert.equal(driver.multiport, true);
    assert.equal(driver.maxNrPorts, 3);
    assert.deepEqual(
      driver.ports.map((p) => [p.id, p.name, p.console, p.hostOpen, p.guestOpen]),
      [
        [0, "console", true, true, true],
        [1, "org.lab.echo", false, true, false],
        [2, "org.lab.log", false, true, false],
      ],
    );
    assert.deepEqual(device.ports.map((p) => [p.id, p.added, p.ready, p.guestOpen]), [
      [0, true, true, true],
      [1, true, true, false],
      [2, true, true, false],
    ]);
    assert.equal(conformance.entries.length, 0, conformance.format());
  } finally {
    shutdown();
    await echo.close();
  }
});

Deno.test("multiport: a second port carries its own bytes both ways; port 0 is unaffected", async () => {
  const echo = new EchoConsoleBackend();
  const other = new MemoryConsoleBackend();
  const { driver, device, backend, log, settle, shutdown } = await multiportStack([
    { name: "org.lab.echo", backend: echo },
    { name: "org.lab.other", backend: other },
  ]);
  try {
    const port = driver.port("org.lab.echo")!;
    await port.setOpen(true);
    await settle();
    assert.equal(device.ports[1].guestOpen, true);
    await port.write("ping over port 1\n");
    const reader = port.readable.getReader();
    assert.equal(text(await readBytes(reader, 17)), "ping over port 1\n");
    reader.releaseLock();
    await driver.write("console text");
    await backend.waitForOutput(12);
    assert.equal(backend.outputText, "console text");
    assert.equal(other.outputText, "");
    assert.equal(port.stats.bytesSent, 17);
    assert.equal(port.stats.bytesReceived, 17);
    assert.equal(driver.stats.bytesSent, 12);
    assert.equal(device.ports[1].stats.bytesOut, 17);
    assert.equal(device.ports[0].stats.bytesIn, 0);
    assert.equal(log.entries.length, 0, log.format());
  } finally {
    shutdown();
    await echo.close();
  }
});

Deno.test("multiport: input for a port waits until the guest opens it, as QEMU holds it", async () => {
  const other = new MemoryConsoleBackend();
  const { driver, device, settle, shutdown } = await multiportStack([
    { name: "org.lab.other", backend: other },
  ]);
  try {
    other.input("early");
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(device.ports[1].stats.bytesIn, 0);
    assert.equal(other.pendingInput, 5, "the device has not even read it");
    const port = driver.port(1)!;
    await port.setOpen(true);
    const reader = port.readable.getReader();
    assert.equal(text(await readBytes(reader, 5)), "early");
    reader.releaseLock();
  } finally {
    shutdown();
  }
});

Deno.test("multiport: a driver without VIRTIO_CONSOLE_F_MULTIPORT runs port 0 alone", async () => {
  class SinglePortDriver extends VirtioConsoleDriver {
    override readonly supportedFeatures = features(VIRTIO_F_VERSION_1);
  }
  const other = new MemoryConsoleBackend();
  const { driver, device, backend, log, shutdown } = await multiportStack(
    [{ name: "org.lab.other", backend: other }],
    new SinglePortDriver(),
  );
  try {
    assert.equal(driver.multiport, false);
    assert.deepEqual(driver.ports.map((p) => p.id), [0]);
    backend.input("hi");
    const reader = driver.readable.getReader();
    assert.equal(text(await readBytes(reader, 2)), "hi");
    reader.releaseLock();
    assert.equal(device.ports[1].added, false);
    assert.equal(log.entries.length, 0, log.format());
  } finally {
    shutdown();
  }
});

Deno.test("multiport: a device announcing a port past max_nr_ports is logged 5.3.6.2.1/1; the rest works", async () => {
  const echo = new EchoConsoleBackend();
  const { driver, log, shutdown } = await multiportStack(
    [{ name: "org.lab.echo", backend: echo }],
    new VirtioConsoleDriver(),
    {
      handleDriverMessage: (state, message, reporter) => {
        const out = handleDriverMessage(state, message, reporter);
        const c = decodeControl(message);
        return c?.event === VIRTIO_CONSOLE_DEVICE_READY
          ? [...out, encodeControl(9, VIRTIO_CONSOLE_DEVICE_ADD, 0)]
          : out;
      },
    },
  );
  try {
    assert.deepEqual(log.entries.map((e) => e.id), ["5.3.6.2.1/1"]);
    assert.equal(log.entries[0].role, "device");
    assert.deepEqual(driver.ports.map((p) => p.id), [0, 1]);
  } finally {
    shutdown();
    await echo.close();
  }
});

Deno.test("multiport: a driver that answers PORT_READY before DEVICE_READY is logged 5.3.6.2.2/1 and gets no ports", async () => {
  const driver = new VirtioConsoleDriver({
    parts: {
      deviceReadyMessage: (state) => {
        state.deviceReadySent = true;
        return encodeControl(1, VIRTIO_CONSOLE_PORT_READY, 1);
      },
    },
  });
  const other = new MemoryConsoleBackend();
  const { device, log, shutdown } = await multiportStack(
    [{ name: "org.lab.other", backend: other }],
    driver,
  );
  try {
    assert.deepEqual(log.entries.map((e) => e.id), ["5.3.6.2.2/1"]);
    assert.equal(log.entries[0].role, "driver");
    assert.deepEqual(driver.ports.map((p) => p.id), []);
    assert.equal(device.ports.some((p) => p.added), false);
  } finally {
    shutdown();
  }
});

Deno.test("multiport: recover() after a reset announces the ports again and they carry bytes", async () => {
  const echo = new EchoConsoleBackend();
  const { driver, driverTransport, settle, shutdown } = await multiportStack([
    { name: "org.lab.echo", backend: echo },
  ]);
  try {
    driverTransport.fail("test: give up on the device");
    assert.equal(await driverTransport.recover(), true);
    await settle();
    assert.deepEqual(driver.ports.map((p) => p.name), ["console", "org.lab.echo"]);
    const port = driver.port("org.lab.echo")!;
    await port.setOpen(true);
    await port.write("again");
    const reader = port.readable.getReader();
    assert.equal(text(await readBytes(reader, 5)), "again");
    reader.releaseLock();
  } finally {
    shutdown();
    await echo.close();
  }
});

Deno.test("EchoConsoleBackend: writes wait while the echoed bytes are unread past the limit", async () => {
  const echo = new EchoConsoleBackend(4);
  await echo.write(utf8("abcd"));
  let second = false;
  const write = echo.write(utf8("ef")).then(() => (second = true));
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(second, false);
  assert.equal(text((await echo.read())!), "abcd");
  await write;
  assert.equal(text((await echo.read())!), "ef");
  await echo.close();
  assert.equal(await echo.read(), null);
  await assert.rejects(() => echo.write(utf8("x")));
});

Deno.test("createMachine({ consolePorts }): named queue roles, and close() closes every port's backend", async () => {
  const echo = new EchoConsoleBackend();
  const machine = await createMachine({ consolePorts: [{ name: "org.lab.echo", backend: echo }] });
  try {
    const roles = machine.traffic().filter((r) => r.node.startsWith("virtio_console")).map((r) =>
      `${r.queue} ${r.role}`
    );
    assert.deepEqual(roles, [
      "0 receiveq",
      "1 transmitq",
      "2 control receiveq",
      "3 control transmitq",
      "4 port 1 receiveq",
      "5 port 1 transmitq",
    ]);
    assert.deepEqual(machine.console.driver!.ports.map((p) => p.name), [null, "org.lab.echo"]);
  } finally {
    await machine.close();
  }
  assert.equal(await echo.read(), null, "the machine closed the port's backend");
});

Deno.test("multiport: a port the device removes ends, fails its writes, and comes back fresh when added again", async () => {
  const echo = new EchoConsoleBackend();
  let churned = false;
  const { driver, log, settle, shutdown } = await multiportStack(
    [{ name: "org.lab.echo", backend: echo }],
    new VirtioConsoleDriver(),
    {
      // The first time the guest opens port 1, the device unplugs it and
      // plugs it in again (as a hot-unplugged and re-plugged virtserialport).
      handleDriverMessage: (state, message, reporter) => {
        const c = decodeControl(message);
        if (!churned && c?.event === VIRTIO_CONSOLE_PORT_OPEN && c.id === 1) {
          churned = true;
          state.ports[1].ready = false;
          state.ports[1].guestOpen = true;
          return [encodeControl(1, VIRTIO_CONSOLE_DEVICE_REMOVE, 0), encodeControl(1, 1, 0)];
        }
        return handleDriverMessage(state, message, reporter);
      },
    },
  );
  try {
    const old = driver.port("org.lab.echo")!;
    const oldReader = old.readable.getReader();
    await old.setOpen(true);
    await settle();
    assert.equal(churned, true);
    assert.equal(old.removed, true);
    assert.equal((await oldReader.read()).done, true, "the removed port's stream ended");
    await assert.rejects(
      () => old.write("x"),
      (e: Error & { code?: string }) => e.code === "removed",
    );
    const again = driver.port("org.lab.echo")!;
    assert.equal(again.removed, false, "the port added again is a fresh one");
    await again.write("back again");
    const reader = again.readable.getReader();
    assert.equal(text(await readBytes(reader, 10)), "back again");
    reader.releaseLock();
    assert.equal(log.entries.length, 0, log.format());
  } finally {
    shutdown();
    await echo.close();
  }
});
