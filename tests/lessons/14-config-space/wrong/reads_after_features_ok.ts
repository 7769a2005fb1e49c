// Mistake: configuration is served only once the features are settled
// (FEATURES_OK): a driver that reads it during negotiation, to decide whether it can drive the
// device, gets 0s.
// Source: Linux 82e89ea077b9 read blk_size during negotiation; answered wrongly there, it was reverted (ff63198850f3) and fixed by 2f9a174f918e
// Must fail: "reads are served at any time, before FEATURES_OK too" [2.5.2/1]

import type { ConfigAccessVerdict, ConfigSpaceView } from "../../../../transport/config_space.ts";
import type { RuleProblem } from "../../../../transport/types.ts";
import type { AccessWidth } from "../../../../virtio/device.ts";

export { configChanged, readConfig64, readConfigConsistent } from "../correct/linux_style.ts";

export function checkConfigAccess(
  offset: number,
  width: AccessWidth,
  kind: "read" | "write",
  space: ConfigSpaceView,
): ConfigAccessVerdict {
  if (offset + width > space.size) {
    return { serve: false, problems: [{ id: "4.2.2.2/1", message: "past the end", values: {} }] };
  }
  const problems: RuleProblem[] = [];
  const field = space.layout.find((f) => offset >= f.offset && offset < f.offset + f.size);
  if (field) {
    const w = field.size === 8 ? 4 : field.size;
    if (width !== w || offset % w !== 0 || offset + width > field.offset + field.size) {
      problems.push({ id: "4.2.2.2/3", message: `${field.name} at the wrong width`, values: {} });
    }
    if (field.feature !== undefined && ((space.offered >> BigInt(field.feature)) & 1n) === 0n) {
      problems.push({ id: "2.5.1/1", message: `${field.name} is not offered`, values: {} });
    }
  }
  if (kind === "read") return { serve: (space.status & 0x08) !== 0, problems };
  if (!field || !(field.writable)) return { serve: false, problems };
  if ((space.status & 0x02) !== 0 && (space.status & 0x08) === 0 && !field.anytime) {
    problems.push({ id: "3.1.1/2", message: "written during negotiation", values: {} });
  }
  return { serve: true, problems };
}
