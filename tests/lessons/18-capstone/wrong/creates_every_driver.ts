// Mistake: Every registration's driver is created up front, then the matching one picked.
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
  const drivers = registrations.map((r) => r.create());
  const driver = drivers.find((d) => d.deviceId === found.deviceId);
  return driver ? { driver, reason: "" } : { driver: null, reason: "no driver" };
}
