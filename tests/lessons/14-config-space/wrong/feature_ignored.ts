// Mistake: fields of optional features are treated as always there: a read of
// geometry on a device that does not offer VIRTIO_BLK_F_GEOMETRY is not reported.
// Source: none
// Must fail: "a field whose feature is not offered is reported" [2.5.1/1]

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
  }
  if (kind === "read") return { serve: true, problems };
  if (!field || !(field.writable)) return { serve: false, problems };
  if ((space.status & 0x02) !== 0 && (space.status & 0x08) === 0 && !field.anytime) {
    problems.push({ id: "3.1.1/2", message: "written during negotiation", values: {} });
  }
  return { serve: true, problems };
}
