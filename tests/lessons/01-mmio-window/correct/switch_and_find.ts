// Correct: a switch for the identification registers, findRegister for the
// access rules (width first, then location, then direction), and a probe
// that reads and returns early, the way Linux's virtio_mmio_probe does.

import {
  type AccessKind,
  type DeviceIdentity,
  findRegister,
  type RegisterAccessCheck,
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VERSION,
} from "../../../../transport/mmio_registers.ts";
import type { ProbeResult } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  switch (offset) {
    case VIRTIO_MMIO_MAGIC_VALUE:
      return VIRTIO_MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION:
      return identity.version ?? 2;
    case VIRTIO_MMIO_DEVICE_ID:
      return identity.deviceId >>> 0;
    case VIRTIO_MMIO_VENDOR_ID:
      return identity.vendorId >>> 0;
    default:
      return undefined;
  }
}

export function checkRegisterAccess(
  offset: number,
  width: number,
  kind: AccessKind,
  version: 1 | 2 = 2,
): RegisterAccessCheck {
  if (offset >= VIRTIO_MMIO_CONFIG) return { ok: true, register: null };
  const around = findRegister(offset & ~3, version) ?? null;
  if (width !== 4 || offset % 4 !== 0) {
    return {
      ok: false,
      requirement: "4.2.2.2/2",
      reason: `${width * 8}-bit ${kind} at 0x${offset.toString(16)}: only aligned 32-bit accesses`,
      register: around,
    };
  }
  if (!around) {
    return {
      ok: false,
      requirement: "4.2.2.2/1",
      reason: `No register at 0x${offset.toString(16)} in the version ${version} layout`,
      register: null,
    };
  }
  const allowed = around.direction === "RW" ||
    (around.direction === "R" ? kind === "read" : kind === "write");
  if (!allowed) {
    return {
      ok: false,
      requirement: "4.2.2.2/1",
      reason: `${around.name} is ${around.direction === "R" ? "read-only" : "write-only"}`,
      register: around,
    };
  }
  return { ok: true, register: around };
}

export function probeWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(VIRTIO_MMIO_MAGIC_VALUE) >>> 0;
  if (magic !== VIRTIO_MMIO_MAGIC) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/4",
      reason: `bad magic 0x${magic.toString(16)}`,
      magic,
      version: 0,
    };
  }
  const version = window.read32(VIRTIO_MMIO_VERSION) >>> 0;
  if (version !== 2) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/5",
      reason: `version ${version} is not supported`,
      magic,
      version,
    };
  }
  const deviceId = window.read32(VIRTIO_MMIO_DEVICE_ID) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  const vendorId = window.read32(VIRTIO_MMIO_VENDOR_ID) >>> 0;
  return { kind: "device", deviceId, vendorId, version };
}
