// Mistake: The driver a registration creates is trusted to drive the device it was registered for.
// Source: none
// Must fail: "a driver that drives another device type is refused" [3.1.1/1]
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
  const match = registrations.find((r) => r.deviceId === found.deviceId);
  if (!match) return { driver: null, reason: "no driver" };
  return { driver: match.create(), reason: "" };
}
