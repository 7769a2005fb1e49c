// Mistake: The last registration for a DeviceID wins instead of the first (findLast).
// Source: none
// Must fail: "a device gets a fresh instance of the first driver registered for its DeviceID" [3.1.1/1]
import type { ProbeResult } from "../../../../transport/driver_init.ts";
import type { DriverRegistration } from "../../../../virtio/driver.ts";
import type { DriverBinding } from "../../../../transport/driver_core.ts";

export * from "../correct/switch_and_try.ts";

export function bindDriver(
  found: ProbeResult,
  registrations: readonly DriverRegistration[],
): DriverBinding {
  if (found.kind === "empty") return { driver: null, reason: "" };
  if (found.kind === "rejected") return { driver: null, reason: found.reason };
  const match = registrations.findLast((r) => r.deviceId === found.deviceId);
  if (!match) return { driver: null, reason: "no driver" };
  const driver = match.create();
  if (driver.deviceId !== found.deviceId) return { driver: null, reason: "wrong type" };
  return { driver, reason: "" };
}
