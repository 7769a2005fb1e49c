// Mistake: An empty slot looked up as DeviceID 0, so it gets "no driver for device 0".
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
  if (found.kind === "rejected") return { driver: null, reason: found.reason };
  const id = found.kind === "device" ? found.deviceId : 0;
  const match = registrations.find((r) => r.deviceId === id);
  if (!match) return { driver: null, reason: `no driver for device ${id}` };
  const driver = match.create();
  if (driver.deviceId !== id) return { driver: null, reason: "wrong type" };
  return { driver, reason: "" };
}
