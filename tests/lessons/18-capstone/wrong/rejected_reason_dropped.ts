// Mistake: A rejected window gets no driver but an empty reason: the probe's reason is lost.
// Source: none
// Must fail: "a window the probe rejected, or no driver is for, gets none, with a reason" [4.2.3.1.1/4]
import type { ProbeResult } from "../../../../transport/driver_init.ts";
import type { DriverRegistration } from "../../../../virtio/driver.ts";
import type { DriverBinding } from "../../../../transport/driver_core.ts";

export * from "../correct/switch_and_try.ts";

export function bindDriver(
  found: ProbeResult,
  registrations: readonly DriverRegistration[],
): DriverBinding {
  if (found.kind !== "device") return { driver: null, reason: "" };
  const match = registrations.find((r) => r.deviceId === found.deviceId);
  if (!match) return { driver: null, reason: "no driver" };
  const driver = match.create();
  if (driver.deviceId !== found.deviceId) return { driver: null, reason: "wrong type" };
  return { driver, reason: "" };
}
