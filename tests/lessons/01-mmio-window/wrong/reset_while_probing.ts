// Mistake: probing starts with a reset (a write of 0 to Status), step 1 of
// §3.1.1, before MagicValue has shown the window is virtio at all.
// Source: none; the initialization steps read naturally as "reset first".
// Must fail: "probeWindow identifies a device: MagicValue, Version, DeviceID, then VendorID" [4.2.3.1.1/1]

import type { ProbeResult } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import { probeWindow as probe } from "../correct/switch_and_find.ts";

export { checkRegisterAccess, readIdentification } from "../correct/switch_and_find.ts";

export function probeWindow(window: RegisterWindow): ProbeResult {
  window.write32(0x070, 0);
  return probe(window);
}
