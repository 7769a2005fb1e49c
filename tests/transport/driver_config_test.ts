import assert from "node:assert/strict";
import { scriptedWindow, setup } from "./_harness.ts";
import * as R from "../../transport/mmio_registers.ts";
import {
  ConfigGenerationError,
  type ConsistentConfigReader,
  readConfig64,
  readConfigConsistent,
  readConfigField,
  writeConfigField,
} from "../../transport/driver_config.ts";
import { MmioDriverTransport } from "../../transport/mmio_driver.ts";

/**
 * A device with a 64-bit field at config offset 0 that grows from
 * 0x0000_0000_ffff_ffff to 0x0000_0001_0000_0000 right after the driver reads
 * its low word the first time, bumping ConfigGeneration as it must.
 */
function growingCapacity() {
  let value = 0xffff_ffffn;
  let generation = 7;
  let changed = false;
  const scripted = scriptedWindow({
    [R.VIRTIO_MMIO_CONFIG_GENERATION]: () => generation,
    [R.VIRTIO_MMIO_CONFIG]: () => {
      const low = Number(value & 0xffff_ffffn);
      if (!changed) {
        changed = true;
        value = 0x1_0000_0000n;
        generation++;
      }
      return low;
    },
    [R.VIRTIO_MMIO_CONFIG + 4]: () => Number(value >> 32n),
  });
  return scripted;
}

Deno.test("readConfig64 reads the low word, then the high word (4.2.2.2/3)", () => {
  const { window, accesses } = scriptedWindow({
    [R.VIRTIO_MMIO_CONFIG + 8]: 0x89ab_cdef,
    [R.VIRTIO_MMIO_CONFIG + 12]: 0x0123_4567,
  });
  assert.equal(readConfig64(window, 8, readConfigConsistent), 0x0123_4567_89ab_cdefn);
  assert.deepEqual(accesses, ["r 0x0fc", "r 0x108", "r 0x10c", "r 0x0fc"]);
});

Deno.test("a 64-bit field changing between its halves: the generation loop prevents the torn value", () => {
  const { window } = growingCapacity();
  assert.equal(readConfig64(window, 0, readConfigConsistent), 0x1_0000_0000n);

  // The same read without the loop returns a value the device never held.
  const once: ConsistentConfigReader = (_window, read) => read();
  assert.equal(readConfig64(growingCapacity().window, 0, once), 0x1_ffff_ffffn);
});

Deno.test("readConfig64 runs its accesses inside the consistent-read step it is given", () => {
  const { window, accesses } = scriptedWindow({ [R.VIRTIO_MMIO_CONFIG]: 5 });
  const marks: string[] = [];
  const step: ConsistentConfigReader = (w, read) => {
    assert.equal(w, window);
    marks.push(`before ${accesses.length}`);
    const value = read();
    marks.push(`after ${accesses.length}`);
    return value;
  };
  assert.equal(readConfig64(window, 0, step), 5n);
  assert.deepEqual(marks, ["before 0", "after 2"]);
});

Deno.test("readConfigConsistent repeats while ConfigGeneration moves, and returns the consistent pass", () => {
  let generation = 0;
  let passes = 0;
  const { window } = scriptedWindow({ [R.VIRTIO_MMIO_CONFIG_GENERATION]: () => generation });
  const value = readConfigConsistent(window, () => {
    passes++;
    if (passes < 3) generation++;
    return passes;
  });
  assert.equal(value, 3);
});

Deno.test("readConfigConsistent gives up after maxTries on a generation that never settles", () => {
  let generation = 0;
  let passes = 0;
  const { window } = scriptedWindow({ [R.VIRTIO_MMIO_CONFIG_GENERATION]: () => generation++ });
  assert.throws(
    () => readConfigConsistent(window, () => passes++, 4),
    (e: unknown) => {
      assert.ok(e instanceof ConfigGenerationError);
      assert.equal(e.attempts, 4);
      assert.notEqual(e.before, e.after);
      return true;
    },
  );
  assert.equal(passes, 4, "exactly maxTries attempts");
  assert.throws(() => readConfigConsistent(window, () => 0, 0), RangeError);
});

Deno.test("config fields are read and written with one access of their own width", () => {
  const { window, accesses } = scriptedWindow({
    [R.VIRTIO_MMIO_CONFIG]: 0x5a,
    [R.VIRTIO_MMIO_CONFIG + 2]: 0x1234,
    [R.VIRTIO_MMIO_CONFIG + 4]: 0xdead_beef,
  });
  assert.equal(readConfigField(window, 0, 1), 0x5a);
  assert.equal(readConfigField(window, 2, 2), 0x1234);
  assert.equal(readConfigField(window, 4, 4), 0xdead_beef);
  writeConfigField(window, 12, 4, 0x41);
  writeConfigField(window, 1, 1, 7);
  assert.deepEqual(accesses, ["r8 0x100", "r16 0x102", "r 0x104", "w 0x10c=65", "w8 0x101=7"]);
});

Deno.test("the driver transport reads 64-bit fields through its parts, consistently", () => {
  const { memory, allocator, log } = setup();
  const { window } = growingCapacity();
  let consistentCalls = 0;
  const t = new MmioDriverTransport({
    window,
    memory,
    allocator,
    log,
    parts: {
      readConfigConsistent: (w, read, maxTries) => {
        consistentCalls++;
        return readConfigConsistent(w, read, maxTries);
      },
    },
  });
  assert.equal(t.readConfig64(0), 0x1_0000_0000n);
  assert.equal(consistentCalls, 1, "readConfig64 was given the transport's consistent-read part");
  assert.throws(() => t.readConfigConsistent(() => 0, 0), RangeError);
});
