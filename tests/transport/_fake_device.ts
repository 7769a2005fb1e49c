/**
 * A small device model for transport tests: two queues (QueueNumMax 8 and 16
 * unless given), a 16-byte config
 * space with fields of every width, and an echo behaviour on notify (each
 * chain is returned with its writable bytes filled with 0xee).
 */

import type { AccessWidth, ConfigField, DeviceHost, VirtioDevice } from "../../virtio/device.ts";
import {
  features,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";

export const FAKE_F_OPTIONAL_FIELD = 5;
export const FAKE_F_NOT_OFFERED = 6;
export const FAKE_DEVICE_ID = 0x1d;

export class FakeDevice implements VirtioDevice {
  readonly name = "fake";
  readonly deviceId = FAKE_DEVICE_ID;
  readonly vendorId = 0x4c414256; // "VBAL"
  readonly deviceFeatures: bigint;
  readonly featureNames = {
    [FAKE_F_OPTIONAL_FIELD]: "FAKE_F_OPTIONAL_FIELD",
    [FAKE_F_NOT_OFFERED]: "FAKE_F_NOT_OFFERED",
  };
  readonly queueMaxSizes: readonly number[];
  readonly configLayout: readonly ConfigField[] = [
    { name: "byte", offset: 0, size: 1 },
    { name: "half", offset: 2, size: 2 },
    { name: "word", offset: 4, size: 4, writable: true },
    { name: "optional", offset: 8, size: 4, feature: FAKE_F_NOT_OFFERED },
    { name: "anytime", offset: 12, size: 4, writable: true, anytime: true },
  ];
  readonly configSize = 16;
  readonly config = new Uint8Array(16);
  host!: DeviceHost;
  activations = 0;
  resets = 0;
  notifications: number[] = [];
  queueResets: number[] = [];
  refuse: string | null = null;
  echo = true;

  constructor(
    offered: bigint = features(
      VIRTIO_F_VERSION_1,
      VIRTIO_F_EVENT_IDX,
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_F_RING_RESET,
      FAKE_F_OPTIONAL_FIELD,
    ),
    queueMaxSizes: readonly number[] = [8, 16],
  ) {
    this.deviceFeatures = offered;
    this.queueMaxSizes = queueMaxSizes;
    new DataView(this.config.buffer).setUint32(4, 0xdeadbeef, true);
    this.config[0] = 0x5a;
    new DataView(this.config.buffer).setUint16(2, 0x1234, true);
  }

  attach(host: DeviceHost): void {
    this.host = host;
  }
  readConfig(offset: number, width: AccessWidth): number {
    const view = new DataView(this.config.buffer);
    return width === 1
      ? view.getUint8(offset)
      : width === 2
      ? view.getUint16(offset, true)
      : view.getUint32(offset, true);
  }
  writeConfig(offset: number, width: AccessWidth, value: number): void {
    const view = new DataView(this.config.buffer);
    if (width === 1) view.setUint8(offset, value);
    else if (width === 2) view.setUint16(offset, value, true);
    else view.setUint32(offset, value, true);
  }
  checkFeatures(): string | null {
    return this.refuse;
  }
  activate(): void {
    this.activations++;
  }
  queueNotify(index: number): void {
    this.notifications.push(index);
    if (!this.echo) return;
    const q = this.host.queue(index);
    if (!q) return;
    let chain;
    while ((chain = q.pop())) {
      let written = 0;
      for (const seg of chain.writable) {
        this.host.memory.fill(seg.addr, seg.len, 0xee);
        written += seg.len;
      }
      q.push(chain.head, written);
    }
    this.host.usedBuffers(index);
  }
  reset(): void {
    this.resets++;
  }
  queueReset(index: number): void {
    this.queueResets.push(index);
  }
  /** Simulates a configuration change (e.g. a console resize). */
  change(offset: number, value: number): void {
    this.config[offset] = value;
    this.host.configChanged();
  }
}
