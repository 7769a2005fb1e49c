// Errors raised where no caller can take them (an interrupt delivery, a
// backend's promise reaction, a timer) go to the machine's one error sink:
// `MachineOptions.onError` and `LabMachine.errors`. Before the sink, a strict
// log's storm report was thrown inside a microtask and a failing reset inside a
// promise reaction became an unhandled rejection; these tests catch anything
// that escapes and fail on it.
import assert from "node:assert/strict";
import { createMachine, type LabMachine, MACHINE_ERRORS_KEPT } from "../machine.ts";
import { ConformanceError } from "../conformance/log.ts";
import { MemoryConsoleBackend } from "../devices/console/backends.ts";
import { acknowledgeInterrupt } from "../transport/interrupt_status.ts";
import { VIRTIO_CONFIG_S_NEEDS_RESET } from "../virtio/status.ts";

/** Runs `fn`, collecting every error that escapes as uncaught or as an unhandled rejection. */
async function escaping(fn: () => Promise<void>): Promise<unknown[]> {
  const escaped: unknown[] = [];
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    escaped.push(e.error);
  };
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    escaped.push(e.reason);
  };
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  try {
    await fn();
    // Let rejections be noticed: unhandledrejection fires after a macrotask.
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  return escaped;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/** A markNeedsReset part that fails, as a learner's might: the reset path itself throws. */
function throwingMarkNeedsReset(): never {
  throw new TypeError("markNeedsReset is not written yet");
}

async function closed(
  machine: LabMachine,
  fn: (m: LabMachine) => Promise<void> | void,
): Promise<void> {
  try {
    await fn(machine);
  } finally {
    await machine.close();
  }
}

Deno.test("machine errors: an interrupt storm reported by a strict log reaches onError, not the event loop", async () => {
  const seen: [unknown, string][] = [];
  const escaped = await escaping(async () => {
    // An InterruptACK that clears nothing: the console's line never drops.
    const machine = await createMachine({
      strict: true,
      onError: (error, where) => void seen.push([error, where]),
      parts: {
        transport: {
          device: { acknowledgeInterrupt: (status) => acknowledgeInterrupt(status, 0) },
        },
      },
    });
    await closed(machine, async (m) => {
      m.console.driver!.write("x");
      for (let i = 0; i < 20 && !m.bus.interruptMasked(43); i++) await tick();
      assert.ok(m.bus.interruptMasked(43), "the storm was detected and the line masked");
      const storm = m.errors.find((e) => e.error instanceof ConformanceError);
      assert.ok(storm, `a ConformanceError in machine.errors: ${JSON.stringify(m.errors)}`);
      assert.equal((storm.error as ConformanceError).violation.id, "4.2.3.4.1/3");
      assert.match(storm.where, /IRQ 43/);
      assert.ok(m.log.entries.some((v) => v.id === "4.2.3.4.1/3"), "still in the log");
    });
  });
  assert.deepEqual(escaped, []);
  assert.ok(seen.some(([e]) => e instanceof ConformanceError), "onError was called");
});

Deno.test("machine errors: a strict violation in the console input pump sets DEVICE_NEEDS_RESET and reaches machine.errors", async () => {
  const console = new MemoryConsoleBackend();
  const escaped = await escaping(async () => {
    const machine = await createMachine({
      strict: true,
      console,
      onError: () => {},
      parts: {
        console: {
          device: {
            // Finds every receive buffer device-readable (5.3.6.1/1): the strict log throws.
            fillReceiveChain: (_memory, chain, _input, reporter) => {
              reporter.report("5.3.6.1/1", `Receive chain ${chain.head} refused`, {}, "refused");
              return -1;
            },
          },
        },
      },
    });
    await closed(machine, async (m) => {
      console.input("hello");
      for (let i = 0; i < 20 && m.errors.length === 0; i++) await tick();
      assert.equal(m.errors.length, 1, JSON.stringify(m.errors));
      const [{ error, where }] = m.errors;
      assert.ok(error instanceof ConformanceError);
      assert.equal(error.violation.id, "5.3.6.1/1");
      assert.match(where, /virtio-console.*receive/);
      assert.ok(m.console.transport.status & VIRTIO_CONFIG_S_NEEDS_RESET, "DEVICE_NEEDS_RESET set");
      assert.match(m.console.transport.needsResetReason, /5\.3\.6\.1\/1/);
    });
  });
  assert.deepEqual(escaped, []);
});

Deno.test("machine errors: a reset that itself throws in the console input pump is routed, not an unhandled rejection", async () => {
  const console = new MemoryConsoleBackend();
  const escaped = await escaping(async () => {
    const machine = await createMachine({
      strict: true,
      console,
      onError: () => {},
      parts: {
        transport: { device: { markNeedsReset: throwingMarkNeedsReset } },
        console: {
          device: {
            fillReceiveChain: (_memory, chain, _input, reporter) => {
              reporter.report("5.3.6.1/1", `Receive chain ${chain.head} refused`, {}, "refused");
              return -1;
            },
          },
        },
      },
    });
    await closed(machine, async (m) => {
      console.input("hello");
      for (let i = 0; i < 20 && m.errors.length < 2; i++) await tick();
      const kinds = m.errors.map((e) => (e.error as Error).name).sort();
      assert.deepEqual(kinds, ["ConformanceError", "TypeError"], JSON.stringify(m.errors));
      assert.ok(m.errors.every((e) => /virtio-console.*receive/.test(e.where)));
    });
  });
  assert.deepEqual(escaped, []);
});

Deno.test("machine errors: a block completion that throws in a promise reaction sets DEVICE_NEEDS_RESET and is routed", async () => {
  const escaped = await escaping(async () => {
    const machine = await createMachine({
      strict: true,
      onError: () => {},
      parts: {
        transport: { device: { markNeedsReset: throwingMarkNeedsReset } },
        blk: {
          device: {
            completeBlockRequest: () => {
              throw new RangeError("completeBlockRequest wrote past the status byte");
            },
          },
        },
      },
    });
    await closed(machine, async (m) => {
      void m.blk.driver!.read(0, 1).catch(() => {});
      for (let i = 0; i < 20 && m.errors.length < 2; i++) await tick();
      const kinds = m.errors.map((e) => (e.error as Error).name).sort();
      assert.deepEqual(kinds, ["RangeError", "TypeError"], JSON.stringify(m.errors));
      assert.ok(
        m.errors.every((e) => /virtio-blk.*complet/.test(e.where)),
        JSON.stringify(m.errors),
      );
    });
  });
  assert.deepEqual(escaped, []);
});

Deno.test("machine errors: the block device still asks for a reset when a completion throws", async () => {
  const machine = await createMachine({
    strict: true,
    onError: () => {},
    parts: {
      blk: {
        device: {
          completeBlockRequest: () => {
            throw new RangeError("completeBlockRequest wrote past the status byte");
          },
        },
      },
    },
  });
  await closed(machine, async (m) => {
    void m.blk.driver!.read(0, 1).catch(() => {});
    for (let i = 0; i < 20 && m.errors.length === 0; i++) await tick();
    assert.equal(m.errors.length, 1);
    assert.ok(m.blk.transport.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    assert.match(m.blk.transport.needsResetReason, /wrote past the status byte/);
  });
});

Deno.test("machine errors: without onError an error is kept and printed as one line on stderr", async () => {
  const lines: unknown[][] = [];
  const original = globalThis.console.error;
  globalThis.console.error = (...args: unknown[]) => void lines.push(args);
  try {
    const machine = await createMachine({
      strict: true,
      parts: {
        transport: {
          device: { acknowledgeInterrupt: (status) => acknowledgeInterrupt(status, 0) },
        },
      },
    });
    await closed(machine, async (m) => {
      m.console.driver!.write("x");
      for (let i = 0; i < 20 && m.errors.length === 0; i++) await tick();
      assert.ok(m.errors.length >= 1);
    });
  } finally {
    globalThis.console.error = original;
  }
  assert.ok(lines.length >= 1);
  assert.equal(lines[0].length, 1);
  assert.match(String(lines[0][0]), /^virtio-lab: IRQ 43 .*4\.2\.3\.4\.1\/3/);
  assert.ok(!String(lines[0][0]).includes("\n"));
});

Deno.test("machine errors: machine.errors keeps the last MACHINE_ERRORS_KEPT", async () => {
  const machine = await createMachine({ onError: () => {} });
  await closed(machine, (m) => {
    for (let i = 0; i < MACHINE_ERRORS_KEPT + 5; i++) m.reportError(new Error(`e${i}`), "test");
    assert.equal(m.errors.length, MACHINE_ERRORS_KEPT);
    assert.equal((m.errors.at(-1)!.error as Error).message, `e${MACHINE_ERRORS_KEPT + 4}`);
    assert.equal(m.errorsDropped, 5);
  });
});
