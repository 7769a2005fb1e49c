// Tests for linux/v86_adapter.ts against the pinned v86 itself (loaded, not
// booted: no BIOS runs): a mapped block gets the guest's loads and stores at
// the guest's width through v86's own memory path, faults never reach the
// emulator, RAM is shared zero-copy and followed across a growth of the
// WebAssembly memory.

import assert from "node:assert/strict";
import { V86_MMAP_BLOCK, V86Engine } from "../../linux/v86_adapter.ts";

const BASE = 0xfef0_0000;
const RAM = 16 * 1024 * 1024;

async function engine(onError?: (error: unknown, where: string) => void): Promise<V86Engine> {
  // A BIOS of HLT instructions: v86 needs one to load; nothing runs it here.
  return await V86Engine.create({
    bios: new Uint8Array(65536).fill(0xf4),
    memorySize: RAM,
    onError,
  });
}

function recorder() {
  const seen: string[] = [];
  return {
    seen,
    target: {
      read: (address: number, width: 1 | 2 | 4) => {
        seen.push(`r${width * 8}@${address.toString(16)}`);
        return [0, 0xa5, 0xbeef, 0, 0x7472_6976][width];
      },
      write: (address: number, width: 1 | 2 | 4, value: number) => {
        seen.push(`w${width * 8}@${address.toString(16)}=${value.toString(16)}`);
      },
    },
  };
}

Deno.test("loads and stores in a mapped block arrive at the guest's width", async () => {
  const vm = await engine();
  try {
    const { seen, target } = recorder();
    vm.mapMmio(BASE, V86_MMAP_BLOCK, target, (a) => (a === BASE + 0x108 ? 2 : 1));
    assert.equal(vm.physicalRead(BASE, 4), 0x7472_6976);
    assert.equal(vm.physicalRead(BASE + 0x108, 2), 0xbeef); // v86 splits it; the adapter pairs it
    assert.equal(vm.physicalRead(BASE + 0x114, 1), 0xa5);
    vm.physicalWrite(BASE + 0x70, 4, 0x0f);
    vm.physicalWrite(BASE + 0x108, 2, 0x1234);
    vm.physicalWrite(BASE + 0x114, 1, 0x56);
    assert.deepEqual(seen, [
      `r32@${BASE.toString(16)}`,
      `r16@${(BASE + 0x108).toString(16)}`,
      `r8@${(BASE + 0x114).toString(16)}`,
      `w32@${(BASE + 0x70).toString(16)}=f`,
      `w16@${(BASE + 0x108).toString(16)}=1234`,
      `w8@${(BASE + 0x114).toString(16)}=56`,
    ]);
    assert.deepEqual(vm.counters, { reads: 3, writes: 3, paired16: 1 });
  } finally {
    await vm.destroy();
  }
});

Deno.test("16-bit stores outside mapped blocks still reach RAM", async () => {
  const vm = await engine();
  try {
    vm.mapMmio(BASE, V86_MMAP_BLOCK, recorder().target, () => 1);
    vm.physicalWrite(0x1000, 2, 0xcafe);
    assert.equal(vm.memory.readU16(0x1000), 0xcafe);
  } finally {
    await vm.destroy();
  }
});

Deno.test("an MMIO handler that throws is reported and reads as all ones", async () => {
  const errors: string[] = [];
  const vm = await engine((_error, where) => errors.push(where));
  try {
    const failing = {
      read: () => {
        throw new RangeError("no window");
      },
      write: () => {
        throw new RangeError("no window");
      },
    };
    vm.mapMmio(BASE, V86_MMAP_BLOCK, failing, () => 1);
    assert.equal(vm.physicalRead(BASE + 0x800, 4), 0xffff_ffff);
    vm.physicalWrite(BASE + 0x800, 4, 1);
    assert.deepEqual(errors, [
      `32-bit MMIO load at 0x${(BASE + 0x800).toString(16)}`,
      `32-bit MMIO store at 0x${(BASE + 0x800).toString(16)}`,
    ]);
  } finally {
    await vm.destroy();
  }
});

Deno.test("a block must be 128 KiB aligned and clear of RAM and other blocks", async () => {
  const vm = await engine();
  try {
    const { target } = recorder();
    assert.throws(() => vm.mapMmio(BASE + 0x200, V86_MMAP_BLOCK, target, () => 1), RangeError);
    assert.throws(() => vm.mapMmio(BASE, 0x1000, target, () => 1), RangeError);
    assert.throws(
      () => vm.mapMmio(0x10_0000, V86_MMAP_BLOCK, target, () => 1),
      /overlaps guest RAM/,
    );
    vm.mapMmio(BASE, V86_MMAP_BLOCK, target, () => 1);
    assert.throws(() => vm.mapMmio(BASE, V86_MMAP_BLOCK, target, () => 1), /already mapped/);
  } finally {
    await vm.destroy();
  }
});

Deno.test("guest RAM is the emulator's memory, zero-copy, and follows it when it grows", async () => {
  const vm = await engine();
  try {
    const memory = vm.memory;
    assert.equal(memory.size, RAM);
    vm.physicalWrite(0x2000, 4, 0x1122_3344);
    assert.equal(memory.readU32(0x2000), 0x1122_3344, "the CPU's store is in GuestMemory");
    memory.writeU32(0x3000, 0x5566_7788);
    assert.equal(
      vm.physicalRead(0x3000, 4),
      0x5566_7788,
      "GuestMemory's store is what the CPU loads",
    );
    const old = memory.buffer;
    vm.wasmMemory.grow(16);
    assert.equal(old.byteLength, 0, "growing detached the buffer");
    const { target } = recorder();
    vm.mapMmio(BASE, V86_MMAP_BLOCK, target, () => 1);
    vm.physicalRead(BASE, 4); // an MMIO access follows the memory first
    assert.equal(memory.buffer, vm.wasmMemory.buffer);
    assert.equal(memory.readU32(0x2000), 0x1122_3344);
    memory.writeU32(0x4000, 0x99aa_bbcc);
    assert.equal(vm.physicalRead(0x4000, 4), 0x99aa_bbcc);
  } finally {
    await vm.destroy();
  }
});
