// Mistake: An empty slot reported as an error: the reason says the window is empty.
// Source: none
// Must fail: "an empty slot gets no driver and no complaint" [4.2.2.2/6]
import type { ProbeResult } from "../../../../transport/driver_init.ts";
import type { DriverRegistration } from "../../../../virtio/driver.ts";
import type { DriverBinding } from "../../../../transport/driver_core.ts";

export * from "../correct/switch_and_try.ts";

export function bindDriver(
  found: ProbeResult,
  registrations: readonly DriverRegistration[],
): DriverBinding {
  if (found.kind === "empty") return { driver: null, reason: "empty slot: no device" };
  if (found.kind === "rejected") return { driver: null, reason: found.reason };
  const match = registrations.find((r) => r.deviceId === found.deviceId);
  if (!match) return { driver: null, reason: "no driver" };
  const driver = match.create();
  if (driver.deviceId !== found.deviceId) return { driver: null, reason: "wrong type" };
  return { driver, reason: "" };
}
