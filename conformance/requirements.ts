/**
 * The normative statements of virtio v1.2 that this project covers, with the
 * stable ids of the project's requirement table (`SECTION/ORDINAL`, e.g.
 * `4.2.2.2/7` is the 7th normative sentence of §4.2.2.2), plus a few
 * "derived rules": checks a hardened implementation makes that follow from
 * the spec's structure rather than from one MUST/SHOULD sentence. Derived
 * rule ids carry a `D`, e.g. `2.7.5/D1`.
 *
 * Summaries are this project's own words; read the spec itself for the
 * normative text.
 *
 * @module
 */

import type { DerivedId, NormativeId, RequirementId } from "./requirement_ids.ts";

export type { DerivedId, NormativeId, RequirementId };

// Section numbers and titles follow virtio v1.2 as published. SECTIONS.tsv in
// the reference folder differs for 2.7.8.x: its extractor missed the legacy
// subsection 2.7.8.1 "Legacy Interface: The Virtqueue Used Ring" (its title
// spans two lines in split-ring.tex), so it numbers the device requirements
// 2.7.8.1 and the driver requirements 2.7.8.2. The requirement ids of
// REQUIREMENTS.tsv (2.7.8.2/n device, 2.7.8.3/n driver) are the canonical
// numbering, and SECTION_TITLES below follows them, not SECTIONS.tsv.

/** Which side of the virtio interface a requirement binds. */
export type Role = "driver" | "device";

/** RFC 2119 level of a normative statement; `"derived"` for derived rules. */
export type RequirementLevel = "MUST" | "SHOULD" | "MAY" | "derived";

/** One normative statement (or derived rule) and what it says, in brief. */
export interface Requirement {
  /** Stable id, `SECTION/ORDINAL` (normative) or `SECTION/Dn` (derived). */
  readonly id: RequirementId;
  /** Spec section number, e.g. `"4.2.2.2"`. */
  readonly section: string;
  /** The section's title, e.g. `"Driver Requirements: MMIO Device Register Layout"`. */
  readonly sectionTitle: string;
  /** The side the rule binds: the side that breaks it when it is broken. */
  readonly role: Role;
  /** MUST, SHOULD, MAY, or derived. */
  readonly level: RequirementLevel;
  /** What the rule asks for, in this project's words (one sentence). */
  readonly summary: string;
}

/** Titles of the spec sections this project cites, by section number (v1.2 numbering). */
export const SECTION_TITLES: Readonly<Record<string, string>> = Object.fromEntries([
  ["2", "Basic Facilities of a Virtio Device"],
  ["2.1", "Device Status Field"],
  ["2.1.1", "Driver Requirements: Device Status Field"],
  ["2.1.2", "Device Requirements: Device Status Field"],
  ["2.2", "Feature Bits"],
  ["2.2.1", "Driver Requirements: Feature Bits"],
  ["2.2.2", "Device Requirements: Feature Bits"],
  ["2.4", "Device Reset"],
  ["2.4.1", "Device Requirements: Device Reset"],
  ["2.4.2", "Driver Requirements: Device Reset"],
  ["2.5", "Device Configuration Space"],
  ["2.5.1", "Driver Requirements: Device Configuration Space"],
  ["2.5.2", "Device Requirements: Device Configuration Space"],
  ["2.6", "Virtqueues"],
  ["2.6.1", "Virtqueue Reset"],
  ["2.6.1.1.1", "Device Requirements: Virtqueue Reset"],
  ["2.6.1.1.2", "Driver Requirements: Virtqueue Reset"],
  ["2.6.1.2.1", "Device Requirements: Virtqueue Re-enable"],
  ["2.6.1.2.2", "Driver Requirements: Virtqueue Re-enable"],
  ["2.7", "Split Virtqueues"],
  ["2.7.1", "Driver Requirements: Virtqueues"],
  ["2.7.4", "Message Framing"],
  ["2.7.4.1", "Device Requirements: Message Framing"],
  ["2.7.4.2", "Driver Requirements: Message Framing"],
  ["2.7.5", "The Virtqueue Descriptor Table"],
  ["2.7.5.1", "Device Requirements: The Virtqueue Descriptor Table"],
  ["2.7.5.2", "Driver Requirements: The Virtqueue Descriptor Table"],
  ["2.7.5.3", "Indirect Descriptors"],
  ["2.7.5.3.1", "Driver Requirements: Indirect Descriptors"],
  ["2.7.5.3.2", "Device Requirements: Indirect Descriptors"],
  ["2.7.6", "The Virtqueue Available Ring"],
  ["2.7.6.1", "Driver Requirements: The Virtqueue Available Ring"],
  ["2.7.7", "Used Buffer Notification Suppression"],
  ["2.7.7.1", "Driver Requirements: Used Buffer Notification Suppression"],
  ["2.7.7.2", "Device Requirements: Used Buffer Notification Suppression"],
  ["2.7.8", "The Virtqueue Used Ring"],
  ["2.7.8.2", "Device Requirements: The Virtqueue Used Ring"],
  ["2.7.8.3", "Driver Requirements: The Virtqueue Used Ring"],
  ["2.7.10", "Available Buffer Notification Suppression"],
  ["2.7.10.1", "Driver Requirements: Available Buffer Notification Suppression"],
  ["2.7.10.2", "Device Requirements: Available Buffer Notification Suppression"],
  ["2.7.13", "Supplying Buffers to The Device"],
  ["2.7.13.1", "Placing Buffers Into The Descriptor Table"],
  ["2.7.13.2", "Updating The Available Ring"],
  ["2.7.13.3", "Updating idx"],
  ["2.7.13.3.1", "Driver Requirements: Updating idx"],
  ["2.7.13.4.1", "Driver Requirements: Notifying The Device"],
  ["2.7.14", "Receiving Used Buffers From The Device"],
  ["2.8", "Packed Virtqueues"],
  ["2.8.1", "Driver and Device Ring Wrap Counters"],
  ["2.8.3", "Write Flag"],
  ["2.8.4", "Element Address and Length"],
  ["2.8.6", "Next Flag: Descriptor Chaining"],
  ["2.8.7", "Indirect Flag: Scatter-Gather Support"],
  ["2.8.10", "Driver and Device Event Suppression"],
  ["2.8.11", "Driver Requirements: Virtqueues"],
  ["2.8.12", "Device Requirements: Virtqueues"],
  ["2.8.14", "Event Suppression Structure Format"],
  ["2.8.15", "Device Requirements: The Virtqueue Descriptor Table"],
  ["2.8.16", "Driver Requirements: The Virtqueue Descriptor Table"],
  ["2.8.17", "Driver Requirements: Scatter-Gather Support"],
  ["2.8.18", "Device Requirements: Scatter-Gather Support"],
  ["2.8.19", "Driver Requirements: Indirect Descriptors"],
  ["2.8.21.1.1", "Driver Requirements: Updating flags"],
  ["2.8.21.3.1", "Driver Requirements: Sending Available Buffer Notifications"],
  ["2.8.22", "Receiving Used Buffers From The Device"],
  ["3.1", "Device Initialization"],
  ["3.1.1", "Driver Requirements: Device Initialization"],
  ["3.2", "Device Operation"],
  ["3.2.1", "Notification of Device Configuration Changes"],
  ["4.2", "Virtio Over MMIO"],
  ["4.2.1", "MMIO Device Discovery"],
  ["4.2.2", "MMIO Device Register Layout"],
  ["4.2.2.1", "Device Requirements: MMIO Device Register Layout"],
  ["4.2.2.2", "Driver Requirements: MMIO Device Register Layout"],
  ["4.2.3", "MMIO-specific Initialization And Device Operation"],
  ["4.2.3.1", "Device Initialization"],
  ["4.2.3.1.1", "Driver Requirements: Device Initialization"],
  ["4.2.3.2", "Virtqueue Configuration"],
  ["4.2.3.3", "Available Buffer Notifications"],
  ["4.2.3.4", "Notifications From The Device"],
  ["4.2.3.4.1", "Driver Requirements: Notifications From The Device"],
  ["4.2.4", "Legacy interface"],
  ["5.2", "Block Device"],
  ["5.2.3", "Feature bits"],
  ["5.2.4", "Device configuration layout"],
  ["5.2.5", "Device Initialization"],
  ["5.2.5.1", "Driver Requirements: Device Initialization"],
  ["5.2.5.2", "Device Requirements: Device Initialization"],
  ["5.2.6", "Device Operation"],
  ["5.2.6.1", "Driver Requirements: Device Operation"],
  ["5.2.6.2", "Device Requirements: Device Operation"],
  ["5.3", "Console Device"],
  ["5.3.2", "Virtqueues"],
  ["5.3.4", "Device configuration layout"],
  ["5.3.5", "Device Initialization"],
  ["5.3.5.1", "Device Requirements: Device Initialization"],
  ["5.3.6", "Device Operation"],
  ["5.3.6.1", "Driver Requirements: Device Operation"],
  ["5.3.6.2", "Multiport Device Operation"],
  ["5.3.6.2.1", "Device Requirements: Multiport Device Operation"],
  ["5.3.6.2.2", "Driver Requirements: Multiport Device Operation"],
  ["6", "Reserved Feature Bits"],
  ["6.1", "Driver Requirements: Reserved Feature Bits"],
  ["6.2", "Device Requirements: Reserved Feature Bits"],
]);

type Row = readonly [id: string, role: Role, level: RequirementLevel, summary: string];

// [id, role, level, summary]
const NORMATIVE = [
  [
    "2.1.1/1",
    "driver",
    "MUST",
    "The driver records its progress through the initialization steps of §3.1 by setting the matching status bits.",
  ],
  ["2.1.1/2", "driver", "MUST", "The driver only sets status bits; it never clears one."],
  [
    "2.1.1/3",
    "driver",
    "MUST",
    "After setting FAILED, the driver has to reset the device before it tries to initialize it again.",
  ],
  [
    "2.1.1/4",
    "driver",
    "SHOULD",
    "Once DEVICE_NEEDS_RESET is set, the driver should not count on in-flight requests completing (or on them not completing).",
  ],
  [
    "2.1.2/1",
    "device",
    "MUST",
    "Until the driver sets DRIVER_OK, the device leaves its buffers alone and raises no used buffer notification.",
  ],
  [
    "2.1.2/2",
    "device",
    "MUST",
    "If DRIVER_OK is set when the device raises DEVICE_NEEDS_RESET, it must also send a configuration change notification.",
  ],
  [
    "2.1.2/3",
    "device",
    "SHOULD",
    "A device that falls into an error state only a reset can clear should say so by setting DEVICE_NEEDS_RESET.",
  ],
  [
    "2.2.1/1",
    "driver",
    "MUST",
    "The driver accepts only features the device offered, and never a feature whose prerequisite feature it did not accept too.",
  ],
  [
    "2.2.1/2",
    "driver",
    "MUST",
    "If the device lacks a feature the driver needs, the driver should fall back to a compatible mode, or else must set FAILED and stop initializing.",
  ],
  [
    "2.2.2/1",
    "device",
    "MUST",
    "The device never offers a feature without also offering every feature it depends on.",
  ],
  [
    "2.2.2/2",
    "device",
    "MUST",
    "The device should take any valid feature subset the driver picks; if it cannot, it must leave FEATURES_OK unset when the driver writes it.",
  ],
  [
    "2.2.2/3",
    "device",
    "SHOULD",
    "A feature set the device accepted once should be accepted again after a device or system reset (resume and error recovery rely on it).",
  ],
  ["2.4.1/1", "device", "MUST", "On reset the device sets its status back to 0."],
  [
    "2.4.1/2",
    "device",
    "MUST",
    "Once the device shows status 0 after a reset, it stays silent and leaves the queues alone until the driver initializes it again.",
  ],
  [
    "2.4.2/1",
    "driver",
    "SHOULD",
    "The driver should treat a reset it started as finished only when it reads the status back as 0.",
  ],
  [
    "2.5.1/1",
    "driver",
    "MUST",
    "The driver must not assume wide or multi-field config reads are atomic (re-read until ConfigGeneration holds); optional fields need their feature offered.",
  ],
  [
    "2.5.1/2",
    "driver",
    "MUST",
    "The driver must not reject a device because its configuration space is larger than the structure the driver knows.",
  ],
  [
    "2.5.1/3",
    "driver",
    "SHOULD",
    "The driver should only check that configuration space is big enough for the fields it needs; extra tail bytes are fine.",
  ],
  [
    "2.5.2/1",
    "device",
    "MUST",
    "Every device-specific configuration field, including those of offered optional features, is readable before the driver sets FEATURES_OK.",
  ],
  [
    "2.6.1.1.1/1",
    "device",
    "MUST",
    "Once the driver resets a queue, the device processes no more requests from it and sends no notifications for it.",
  ],
  [
    "2.6.1.1.1/2",
    "device",
    "MUST",
    "A queue reset returns all of that queue's state, including its available and used positions, to the defaults.",
  ],
  [
    "2.6.1.1.2/1",
    "driver",
    "MUST",
    "After asking for a queue reset, the driver checks that the reset really happened before relying on it.",
  ],
  [
    "2.6.1.1.2/2",
    "driver",
    "MAY",
    "Once a queue reset has completed, the driver may free the memory and other resources of that queue.",
  ],
  [
    "2.6.1.2.1/1",
    "device",
    "MUST",
    "When a reset queue is enabled again, the device uses the settings the driver wrote since (size, addresses), not the old ones.",
  ],
  [
    "2.6.1.2.2/1",
    "driver",
    "MUST",
    "To re-enable a reset queue, the driver sets it up the same way as at first discovery, possibly with new parameters.",
  ],
  [
    "2.7.1/1",
    "driver",
    "MUST",
    "Each virtqueue part starts at an address aligned as §2.7 requires: descriptor table 16 bytes, available ring 2, used ring 4.",
  ],
  [
    "2.7.4.1/1",
    "device",
    "MUST",
    "The device accepts any split of a request into descriptors and does not rely on a particular layout (e.g. the header in its own descriptor).",
  ],
  [
    "2.7.4.1/2",
    "device",
    "MAY",
    "The device may cap the number of descriptors it accepts in one chain at a reasonable value.",
  ],
  [
    "2.7.4.2/1",
    "driver",
    "MUST",
    "In a chain, every device-readable descriptor comes before every device-writable one.",
  ],
  [
    "2.7.4.2/2",
    "driver",
    "SHOULD",
    "The driver should not split a buffer into an unreasonable number of descriptors.",
  ],
  [
    "2.7.5.1/1",
    "device",
    "MUST",
    "The device never writes to a device-readable buffer, and should not read a device-writable one (except for debugging).",
  ],
  ["2.7.5.1/2", "device", "MUST", "The device never modifies the descriptor table."],
  [
    "2.7.5.2/1",
    "driver",
    "MUST",
    "A chain's buffers total at most 2^32 bytes, so chains cannot loop; with VIRTIO_F_IN_ORDER each chained descriptor's next is the following slot, wrapping to 0.",
  ],
  [
    "2.7.5.3.1/1",
    "driver",
    "MUST",
    "The driver sets VIRTQ_DESC_F_INDIRECT only if VIRTIO_F_INDIRECT_DESC was negotiated.",
  ],
  [
    "2.7.5.3.1/2",
    "driver",
    "MUST",
    "A descriptor inside an indirect table never has VIRTQ_DESC_F_INDIRECT set: one level of indirection only.",
  ],
  [
    "2.7.5.3.1/3",
    "driver",
    "MUST",
    "A chain, counting the entries of any indirect table, is never longer than the Queue Size in descriptors.",
  ],
  [
    "2.7.5.3.1/4",
    "driver",
    "MUST",
    "No descriptor carries both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT.",
  ],
  [
    "2.7.5.3.1/5",
    "driver",
    "MUST",
    "With VIRTIO_F_IN_ORDER, the entries of an indirect table are chained in order: entry i's next is i + 1.",
  ],
  [
    "2.7.5.3.2/1",
    "device",
    "MUST",
    "The device ignores VIRTQ_DESC_F_WRITE on a descriptor that points to an indirect table.",
  ],
  [
    "2.7.5.3.2/2",
    "device",
    "MUST",
    "The device accepts a chain of ordinary descriptors whose last element is one indirect descriptor.",
  ],
  [
    "2.7.6.1/1",
    "driver",
    "MUST",
    "The available ring's idx only moves forward (modulo 2^16); once exposed, buffers cannot be taken back.",
  ],
  [
    "2.7.7.1/1",
    "driver",
    "MUST",
    "Without VIRTIO_F_EVENT_IDX, the available ring's flags is 0 or 1, where 1 tells the device used buffer notifications are not needed.",
  ],
  [
    "2.7.7.1/2",
    "driver",
    "MUST",
    "With VIRTIO_F_EVENT_IDX, the available ring's flags stays 0; used_event is how the driver tells the device when it next wants a notification.",
  ],
  [
    "2.7.7.1/3",
    "driver",
    "MUST",
    "The driver copes with used buffer notifications that bring no new used entries.",
  ],
  [
    "2.7.7.2/1",
    "device",
    "MUST",
    "Without VIRTIO_F_EVENT_IDX, the device ignores used_event and, after adding a used entry, notifies if avail flags is 0 (and should not if it is 1).",
  ],
  [
    "2.7.7.2/2",
    "device",
    "MUST",
    "With VIRTIO_F_EVENT_IDX, the device ignores bit 0 of avail flags and notifies when a used entry it just wrote sat at idx used_event (should not otherwise).",
  ],
  [
    "2.7.8.2/1",
    "device",
    "MUST",
    "The device writes a used element's len before it advances the used idx.",
  ],
  [
    "2.7.8.2/2",
    "device",
    "MUST",
    "Before advancing the used idx, the device has written at least len bytes, starting at the first device-writable buffer.",
  ],
  [
    "2.7.8.2/3",
    "device",
    "MAY",
    "The device may write more bytes than it reports in len (len may underestimate).",
  ],
  [
    "2.7.8.3/1",
    "driver",
    "MUST",
    "The driver does not rely on (and should ignore) bytes of writable buffers past the used element's len.",
  ],
  [
    "2.7.10.1/1",
    "driver",
    "MUST",
    "The driver sets the used ring's flags to 0 when it allocates the used ring.",
  ],
  [
    "2.7.10.1/2",
    "driver",
    "MUST",
    "Without VIRTIO_F_EVENT_IDX, the driver ignores avail_event and, after publishing chains, notifies if used flags is 0 (and should not if it is 1).",
  ],
  [
    "2.7.10.1/3",
    "driver",
    "MUST",
    "With VIRTIO_F_EVENT_IDX, the driver ignores bit 0 of used flags and notifies when an entry it just published sat at idx avail_event (should not otherwise).",
  ],
  [
    "2.7.10.2/1",
    "device",
    "MUST",
    "Without VIRTIO_F_EVENT_IDX, the used ring's flags is 0 or 1, where 1 tells the driver available buffer notifications are not needed.",
  ],
  [
    "2.7.10.2/2",
    "device",
    "MUST",
    "With VIRTIO_F_EVENT_IDX, the used ring's flags stays 0; avail_event is how the device tells the driver when it next wants a notification.",
  ],
  [
    "2.7.10.2/3",
    "device",
    "MUST",
    "The device copes with available buffer notifications that bring no new chains.",
  ],
  [
    "2.7.13.3.1/1",
    "driver",
    "MUST",
    "The driver stores a chain's descriptors and available ring entry before the idx update that publishes it, with a barrier between.",
  ],
  [
    "2.7.13.4.1/1",
    "driver",
    "MUST",
    "The driver reads the used ring's flags or avail_event only after storing the new available idx, with a full barrier between.",
  ],
  [
    "2.8.11/1",
    "driver",
    "MUST",
    "The driver places the Descriptor Ring on a 16-byte boundary and each Event Suppression structure on a 4-byte boundary.",
  ],
  [
    "2.8.12/1",
    "device",
    "MUST",
    "Driver descriptors are taken up by the device in ring order, one list after the next.",
  ],
  [
    "2.8.12/2",
    "device",
    "MUST",
    "Used descriptors go into the ring in completion order: the first buffer finished is the first written back.",
  ],
  [
    "2.8.12/3",
    "device",
    "MAY",
    "Once a used descriptor write has begun, the device may store its fields in any order.",
  ],
  [
    "2.8.15/1",
    "device",
    "MUST",
    "Device-readable elements are never written by the device, and device-writable ones are best not read.",
  ],
  [
    "2.8.15/2",
    "device",
    "MUST",
    "The device uses a descriptor only once it sees its VIRTQ_DESC_F_AVAIL bit changed to the wrap counter it expects.",
  ],
  [
    "2.8.15/3",
    "device",
    "MUST",
    "The device does not change a descriptor after changing its VIRTQ_DESC_F_USED bit: the flags store comes last.",
  ],
  [
    "2.8.16/1",
    "driver",
    "MUST",
    "The driver changes a descriptor only after it sees its VIRTQ_DESC_F_USED bit changed (the device has used it).",
  ],
  [
    "2.8.16/2",
    "driver",
    "MUST",
    "The driver does not change a descriptor after changing its VIRTQ_DESC_F_AVAIL bit: the flags store comes last.",
  ],
  [
    "2.8.16/3",
    "driver",
    "MUST",
    "With notification data, the driver's notification carries next_off and next_wrap of the next descriptor not yet made available.",
  ],
  [
    "2.8.16/4",
    "driver",
    "MAY",
    "The driver may send available buffer notifications that make no new descriptor available.",
  ],
  [
    "2.8.17/1",
    "driver",
    "MUST",
    "Lists the driver posts stay within the device's own limit on list length.",
  ],
  [
    "2.8.17/2",
    "driver",
    "MUST",
    "No list the driver posts has more descriptors than the ring has entries (Queue Size).",
  ],
  [
    "2.8.17/3",
    "driver",
    "MUST",
    "In each list, every device-readable element comes before the first device-writable one.",
  ],
  [
    "2.8.17/4",
    "driver",
    "MUST",
    "A list's driver never counts on the device taking extra descriptors in order to finish writing it out.",
  ],
  [
    "2.8.17/5",
    "driver",
    "MUST",
    "The driver makes sure the ring has room for the whole list before making its first descriptor available.",
  ],
  [
    "2.8.17/6",
    "driver",
    "MUST",
    "The driver makes the first descriptor of a list available only after every later descriptor of the list.",
  ],
  [
    "2.8.18/1",
    "device",
    "MUST",
    "The device uses the descriptors of a list chained by VIRTQ_DESC_F_NEXT in the order the driver made them available.",
  ],
  [
    "2.8.18/2",
    "device",
    "MAY",
    "A device is free to cap how many elements one list may hold.",
  ],
  [
    "2.8.19/1",
    "driver",
    "MUST",
    "Without VIRTIO_F_INDIRECT_DESC negotiated, no descriptor carries VIRTQ_DESC_F_INDIRECT.",
  ],
  [
    "2.8.19/2",
    "driver",
    "MUST",
    "Descriptors inside an indirect table carry no flag but VIRTQ_DESC_F_WRITE.",
  ],
  [
    "2.8.19/3",
    "driver",
    "MUST",
    "An indirect table the driver builds stays within the device's limit on list length.",
  ],
  [
    "2.8.19/4",
    "driver",
    "MUST",
    "A descriptor with VIRTQ_DESC_F_INDIRECT is never part of a list linked by VIRTQ_DESC_F_NEXT.",
  ],
  [
    "2.8.21.1.1/1",
    "driver",
    "MUST",
    "The driver stores a descriptor's address, length and id (and the rest of its list) before the flags store that makes it available, with a barrier between.",
  ],
  [
    "2.8.21.3.1/1",
    "driver",
    "MUST",
    "The driver reads the Device Event Suppression structure only after the flags stores that made its descriptors available, with a full barrier between.",
  ],
  [
    "3.1.1/1",
    "driver",
    "MUST",
    "The driver initializes in the order of §3.1.1: reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK and its re-check, setup, DRIVER_OK.",
  ],
  [
    "3.1.1/2",
    "driver",
    "MUST",
    "While negotiating features, the driver may read device-specific configuration but must not write it.",
  ],
  [
    "3.1.1/3",
    "driver",
    "MUST",
    "After setting FEATURES_OK the driver accepts no further feature bits.",
  ],
  [
    "3.1.1/4",
    "driver",
    "SHOULD",
    "If a step fails beyond recovery, the driver should set FAILED to show it gave up (a later reset can start over).",
  ],
  [
    "3.1.1/5",
    "driver",
    "MUST",
    "After such a failure the driver stops the initialization sequence.",
  ],
  [
    "3.1.1/6",
    "driver",
    "MUST",
    "The driver sends no available buffer notifications until it has set DRIVER_OK.",
  ],
  [
    "4.2.2.1/1",
    "device",
    "MUST",
    'MagicValue reads as 0x74726976 ("virt" in little-endian ASCII).',
  ],
  ["4.2.2.1/2", "device", "MUST", "Version reads as 0x2 on a modern (non-legacy) device."],
  [
    "4.2.2.1/3",
    "device",
    "MUST",
    "Each event's bit in InterruptStatus is set from the moment the event happens until the driver acknowledges it through InterruptACK.",
  ],
  ["4.2.2.1/4", "device", "MUST", "InterruptStatus bits of events that did not happen read as 0."],
  [
    "4.2.2.1/5",
    "device",
    "MUST",
    "A device reset clears InterruptStatus and the QueueReady bit of every queue.",
  ],
  [
    "4.2.2.1/6",
    "device",
    "MUST",
    "ConfigGeneration changes whenever the driver might otherwise read an inconsistent configuration.",
  ],
  [
    "4.2.2.1/7",
    "device",
    "MUST",
    "The device does not touch a queue's rings or buffers while its QueueReady is 0.",
  ],
  [
    "4.2.2.1/8",
    "device",
    "MUST",
    "With VIRTIO_F_RING_RESET, QueueReset reads 0 after a device reset.",
  ],
  [
    "4.2.2.1/9",
    "device",
    "MUST",
    "With VIRTIO_F_RING_RESET, QueueReset reads 0 once the queue has been enabled through QueueReady.",
  ],
  ["4.2.2.1/10", "device", "MUST", "Writing 1 to QueueReset resets the selected queue."],
  [
    "4.2.2.1/11",
    "device",
    "MUST",
    "QueueReset keeps reading 1 while the queue reset is in progress.",
  ],
  [
    "4.2.2.1/12",
    "device",
    "MUST",
    "When the queue reset is done, both QueueReset and QueueReady read 0.",
  ],
  [
    "4.2.2.2/1",
    "driver",
    "MUST",
    "The driver touches only registers in the §4.2.2 table (and config fields the device defines), never writes read-only ones or reads write-only ones.",
  ],
  [
    "4.2.2.2/2",
    "driver",
    "MUST",
    "Control registers are accessed only with aligned 32-bit reads and writes.",
  ],
  [
    "4.2.2.2/3",
    "driver",
    "MUST",
    "Config space is accessed at each field's own width: 8-bit for u8, aligned 16-bit for u16, aligned 32-bit for u32 and for each half of a u64.",
  ],
  [
    "4.2.2.2/4",
    "driver",
    "MUST",
    "The driver skips a device whose MagicValue is not 0x74726976 (reporting an error is optional).",
  ],
  [
    "4.2.2.2/5",
    "driver",
    "MUST",
    "The driver skips a device whose Version is not 2 (reporting an error is optional).",
  ],
  [
    "4.2.2.2/6",
    "driver",
    "MUST",
    "The driver silently skips a window whose DeviceID is 0: it is a placeholder, not an error.",
  ],
  [
    "4.2.2.2/7",
    "driver",
    "MUST",
    "The driver writes DeviceFeaturesSel before it reads DeviceFeatures.",
  ],
  [
    "4.2.2.2/8",
    "driver",
    "MUST",
    "The driver writes DriverFeaturesSel before it writes DriverFeatures.",
  ],
  ["4.2.2.2/9", "driver", "MUST", "The queue size written to QueueNum never exceeds QueueNumMax."],
  [
    "4.2.2.2/10",
    "driver",
    "MUST",
    "While QueueReady is non-zero the driver leaves QueueNum and the six queue address registers alone.",
  ],
  [
    "4.2.2.2/11",
    "driver",
    "MUST",
    "To stop a queue the driver writes 0 to QueueReady and reads it back to synchronize.",
  ],
  ["4.2.2.2/12", "driver", "MUST", "The driver disregards InterruptStatus bits it does not know."],
  [
    "4.2.2.2/13",
    "driver",
    "MUST",
    "After handling an interrupt the driver writes the handled event bits to InterruptACK, and never sets undefined bits there.",
  ],
  [
    "4.2.2.2/14",
    "driver",
    "MUST",
    "With VIRTIO_F_RING_RESET, after writing 1 to QueueReset the driver waits to read 0 there before treating the queue as reset.",
  ],
  [
    "4.2.2.2/15",
    "driver",
    "MAY",
    "After a queue reset, the driver may enable the queue again by writing 1 to QueueReady once its other settings are in place.",
  ],
  [
    "4.2.2.2/16",
    "driver",
    "MAY",
    "When re-enabling a reset queue, the driver may pick new values (size, addresses) for its settings.",
  ],
  [
    "4.2.3.1.1/1",
    "driver",
    "MUST",
    "Initialization begins by reading and validating MagicValue and Version.",
  ],
  [
    "4.2.3.1.1/2",
    "driver",
    "MUST",
    "If those are valid, the driver reads DeviceID; if it is 0 the driver stops and touches no other register.",
  ],
  [
    "4.2.3.1.1/3",
    "driver",
    "MUST",
    "A driver that does not expect shared memory regions leaves the SHM registers alone.",
  ],
  [
    "4.2.3.1.1/4",
    "driver",
    "MUST",
    "The rest of MMIO initialization follows the generic sequence of §3.1.",
  ],
  [
    "4.2.3.4.1/1",
    "driver",
    "MUST",
    "On an interrupt the driver reads InterruptStatus to find out which events caused it.",
  ],
  [
    "4.2.3.4.1/2",
    "driver",
    "SHOULD",
    "A set used-buffer bit should be treated as a used buffer notification for every active queue.",
  ],
  [
    "4.2.3.4.1/3",
    "driver",
    "MUST",
    "Once the interrupt is handled, the driver acknowledges it by writing the handled event bits to InterruptACK.",
  ],
  [
    "5.2.5.1/1",
    "driver",
    "SHOULD",
    "A driver that cannot send VIRTIO_BLK_T_FLUSH should not accept VIRTIO_BLK_F_FLUSH.",
  ],
  [
    "5.2.5.1/2",
    "driver",
    "MAY",
    "Without VIRTIO_BLK_F_FLUSH and without VIRTIO_BLK_F_CONFIG_WCE, the driver may treat the device's cache as writethrough.",
  ],
  [
    "5.2.5.1/3",
    "driver",
    "SHOULD",
    "With VIRTIO_BLK_F_FLUSH but not VIRTIO_BLK_F_CONFIG_WCE negotiated, the driver should treat the cache as writeback.",
  ],
  [
    "5.2.5.1/4",
    "driver",
    "MUST",
    "The driver does not read the writeback config field until it has set FEATURES_OK.",
  ],
  [
    "5.2.5.2/1",
    "device",
    "MUST",
    "VIRTIO_BLK_F_FLUSH should always be on offer, and is required whenever VIRTIO_BLK_F_CONFIG_WCE is offered.",
  ],
  [
    "5.2.5.2/2",
    "device",
    "MUST",
    "If VIRTIO_BLK_F_CONFIG_WCE is negotiated without VIRTIO_BLK_F_FLUSH, writeback starts at 0.",
  ],
  [
    "5.2.5.2/3",
    "device",
    "MUST",
    "The padding fields unused0 and unused1 of the block configuration read as 0.",
  ],
  [
    "5.2.6.1/1",
    "driver",
    "MUST",
    "No read or write request reaches past the disk's capacity (in 512-byte sectors).",
  ],
  [
    "5.2.6.1/2",
    "driver",
    "SHOULD",
    "The driver should accept VIRTIO_BLK_F_RO when the device offers it.",
  ],
  ["5.2.6.1/3", "driver", "MUST", "A flush request carries sector 0."],
  ["5.2.6.1/4", "driver", "SHOULD", "A flush request should carry no data buffer."],
  [
    "5.2.6.1/5",
    "driver",
    "MUST",
    "Read and write requests move a whole number of 512-byte sectors.",
  ],
  [
    "5.2.6.1/6",
    "driver",
    "MUST",
    "Discard, secure erase and write zeroes data is a whole number of 16-byte virtio_blk_discard_write_zeroes segments.",
  ],
  [
    "5.2.6.1/7",
    "driver",
    "MUST",
    "A VIRTIO_BLK_T_GET_ID request's data buffer is exactly 20 bytes.",
  ],
  ["5.2.6.1/8", "driver", "MUST", "A discard request holds at most max_discard_seg segments."],
  [
    "5.2.6.1/9",
    "driver",
    "MUST",
    "A secure erase request holds at most max_secure_erase_seg segments.",
  ],
  [
    "5.2.6.1/10",
    "driver",
    "MUST",
    "A write zeroes request holds at most max_write_zeroes_seg segments.",
  ],
  [
    "5.2.6.1/11",
    "driver",
    "MAY",
    "With VIRTIO_BLK_F_CONFIG_WCE, the driver may write 0 (writethrough) or 1 (writeback) to writeback to change the cache mode.",
  ],
  [
    "5.2.6.1/12",
    "driver",
    "MUST",
    "Switching writeback to 0 does not make earlier volatile writes durable; the driver must not assume they were committed.",
  ],
  ["5.2.6.1/13", "driver", "MUST", "Discard segments have the unmap flag clear."],
  [
    "5.2.6.1/14",
    "driver",
    "MUST",
    "After a discard, the driver assumes nothing about what reading those sectors returns.",
  ],
  [
    "5.2.6.1/15",
    "driver",
    "MUST",
    "When a multi-segment discard or write zeroes fails with VIRTIO_BLK_S_IOERR, the driver assumes nothing about which segments were done.",
  ],
  [
    "5.2.6.2/1",
    "device",
    "MUST",
    "When VIRTIO_BLK_F_RO is offered, a write request fails with VIRTIO_BLK_S_IOERR and changes no data.",
  ],
  [
    "5.2.6.2/2",
    "device",
    "MUST",
    "Discard, secure erase and write zeroes requests with an unknown flag set complete with VIRTIO_BLK_S_UNSUPP.",
  ],
  [
    "5.2.6.2/3",
    "device",
    "MUST",
    "A discard with the unmap flag set completes with VIRTIO_BLK_S_UNSUPP.",
  ],
  [
    "5.2.6.2/4",
    "device",
    "MAY",
    "For a discard the device may deallocate the sectors in its backend.",
  ],
  [
    "5.2.6.2/5",
    "device",
    "MAY",
    "For write zeroes with unmap set, the device may deallocate the sectors as a discard would.",
  ],
  [
    "5.2.6.2/6",
    "device",
    "MUST",
    "Once write zeroes completes, reading those sectors returns zeroes, whether or not unmap was set.",
  ],
  [
    "5.2.6.2/7",
    "device",
    "SHOULD",
    "write_zeroes_may_unmap should be 0 exactly when write zeroes can never deallocate sectors.",
  ],
  [
    "5.2.6.2/8",
    "device",
    "SHOULD",
    "If the device changes write_zeroes_may_unmap while running, it should send a configuration change notification.",
  ],
  [
    "5.2.6.2/9",
    "device",
    "MUST",
    "On persistent storage, a write or flush is reported complete only after the data that §5.2.6 calls stable is committed there.",
  ],
  [
    "5.2.6.2/10",
    "device",
    "MAY",
    "A device that does not offer VIRTIO_BLK_F_FLUSH may still commit writes to storage before completing them.",
  ],
  [
    "5.2.6.2/11",
    "device",
    "SHOULD",
    "A device on storage with lifetime metrics (eMMC, UFS) should offer VIRTIO_BLK_F_LIFETIME.",
  ],
  [
    "5.2.6.2/12",
    "device",
    "MUST",
    "VIRTIO_BLK_F_LIFETIME is not offered when the backing storage has no meaningful lifetime metrics.",
  ],
  [
    "5.2.6.2/13",
    "device",
    "MUST",
    "Lifetime data never contains the values the spec marks reserved.",
  ],
  [
    "5.3.5.1/1",
    "device",
    "MUST",
    "Writes to emerg_wr are accepted at any time, even before the device is configured.",
  ],
  [
    "5.3.5.1/2",
    "device",
    "SHOULD",
    "The low byte written to emerg_wr should go out to a log or the console output.",
  ],
  ["5.3.6.1/1", "driver", "MUST", "Buffers placed in a receiveq are device-writable only."],
  ["5.3.6.1/2", "driver", "MUST", "Buffers placed in a transmitq are device-readable only."],
  [
    "5.3.6.2.1/1",
    "device",
    "MUST",
    "VIRTIO_CONSOLE_DEVICE_ADD names a port that does not exist yet and is below max_nr_ports.",
  ],
  [
    "5.3.6.2.1/2",
    "device",
    "MUST",
    "VIRTIO_CONSOLE_DEVICE_REMOVE names only a port an earlier DEVICE_ADD created.",
  ],
  [
    "5.3.6.2.2/1",
    "driver",
    "MUST",
    "With VIRTIO_CONSOLE_F_MULTIPORT negotiated, the driver sends VIRTIO_CONSOLE_DEVICE_READY.",
  ],
  [
    "5.3.6.2.2/2",
    "driver",
    "MUST",
    "On VIRTIO_CONSOLE_CONSOLE_PORT the driver answers with VIRTIO_CONSOLE_PORT_OPEN, value 1 (and should use the port as a text console).",
  ],
  [
    "6.1/1",
    "driver",
    "MUST",
    "The driver accepts VIRTIO_F_VERSION_1 whenever the device offers it.",
  ],
  [
    "6.1/2",
    "driver",
    "MAY",
    "The driver may give up on a device that does not offer VIRTIO_F_VERSION_1.",
  ],
  [
    "6.1/3",
    "driver",
    "MUST",
    "The driver should accept VIRTIO_F_ACCESS_PLATFORM when offered, and must then bypass or program the IOMMU so device addresses translate correctly.",
  ],
  [
    "6.1/4",
    "driver",
    "MUST",
    "Without VIRTIO_F_ACCESS_PLATFORM offered, every address the driver gives the device is a guest-physical address.",
  ],
  ["6.1/5", "driver", "SHOULD", "If VIRTIO_F_RING_PACKED is on offer, the driver should take it."],
  [
    "6.1/6",
    "driver",
    "SHOULD",
    "If VIRTIO_F_ORDER_PLATFORM is on offer, the driver should take it.",
  ],
  [
    "6.1/7",
    "driver",
    "MUST",
    "With VIRTIO_F_ORDER_PLATFORM negotiated, the driver uses the memory barriers meant for real hardware devices.",
  ],
  [
    "6.1/8",
    "driver",
    "MAY",
    "Having negotiated VIRTIO_F_SR_IOV, the driver may turn on virtual functions using the device's SR-IOV capability in PCI config space.",
  ],
  [
    "6.1/9",
    "driver",
    "MUST",
    "The driver does not negotiate VIRTIO_F_SR_IOV on a non-PCI device or one without an SR-IOV capability.",
  ],
  [
    "6.1/10",
    "driver",
    "MUST",
    "Virtual functions are enabled only after VIRTIO_F_SR_IOV is negotiated and FEATURES_OK has been confirmed.",
  ],
  [
    "6.1/11",
    "driver",
    "MAY",
    "Once VIRTIO_F_SR_IOV was negotiated, the driver may enable virtual functions after a reset without negotiating it again.",
  ],
  [
    "6.1/12",
    "driver",
    "SHOULD",
    "If VIRTIO_F_NOTIF_CONFIG_DATA is on offer, the driver should take it.",
  ],
  [
    "6.2/1",
    "device",
    "MUST",
    "Non-legacy devices always include VIRTIO_F_VERSION_1 in their offered features.",
  ],
  [
    "6.2/2",
    "device",
    "MAY",
    "A device may stop working when the driver declines VIRTIO_F_VERSION_1.",
  ],
  [
    "6.2/3",
    "device",
    "SHOULD",
    "A device that reaches memory through translated or restricted bus addresses should offer VIRTIO_F_ACCESS_PLATFORM.",
  ],
  [
    "6.2/4",
    "device",
    "MAY",
    "A device may stop working when the driver declines VIRTIO_F_ACCESS_PLATFORM.",
  ],
  [
    "6.2/5",
    "device",
    "MUST",
    "With VIRTIO_F_IN_ORDER negotiated, the device returns buffers in the order they were made available.",
  ],
  [
    "6.2/6",
    "device",
    "MAY",
    "The device may refuse to go on if it offered VIRTIO_F_ORDER_PLATFORM and the driver declined it.",
  ],
  [
    "6.2/7",
    "device",
    "MAY",
    "If VIRTIO_F_ORDER_PLATFORM is offered but declined, the device may fall back to a slower emulated mode.",
  ],
  [
    "6.2/8",
    "device",
    "MUST",
    "A PCI device with an SR-IOV capability should offer VIRTIO_F_SR_IOV; any other device must not offer it.",
  ],
] as const satisfies readonly Row[];

// Derived rules: checks that follow from the spec's structure. [id, role, level, summary]
const DERIVED = [
  [
    "2.7/D1",
    "driver",
    "derived",
    "Queue Size is a power of two from 1 to 32768: the split ring layout of §2.7 is built on it, and a 16-bit idx must tell a full ring from an empty one.",
  ],
  [
    "2.7/D2",
    "driver",
    "derived",
    "No two parts of a queue overlap: each holds the bytes §2.7 gives for its Queue Size (its event field too, with EVENT_IDX), written by one side only.",
  ],
  [
    "2.7.5/D1",
    "driver",
    "derived",
    "Every descriptor index the driver hands over (an available ring head or a next field) is below Queue Size, since the table has Queue Size entries.",
  ],
  [
    "2.7.5/D2",
    "driver",
    "derived",
    "Every buffer and every ring part lies inside guest RAM: addresses are guest-physical (§2.7.5) while VIRTIO_F_ACCESS_PLATFORM is off (chapter 6).",
  ],
  [
    "2.7.5/D3",
    "driver",
    "derived",
    "No descriptor has len 0: a zero-length buffer describes nothing in the descriptor table, and hardened devices such as QEMU reject it.",
  ],
  [
    "2.7.5.3/D1",
    "driver",
    "derived",
    "An indirect descriptor's len is a non-zero multiple of 16, because the table it points to holds len/16 descriptors of 16 bytes.",
  ],
  [
    "2.7.5.3/D2",
    "driver",
    "derived",
    "A chain in a table takes one descriptor: INDIRECT without NEXT, addr the table, len 16 per entry; entry k holds buffer k, linked to k + 1 (walks start at 0).",
  ],
  [
    "2.7.5.3/D3",
    "driver",
    "derived",
    "An indirect table is the device's until its chain comes back, then freed exactly once: freed early it is reused under the device; never freed, it leaks.",
  ],
  [
    "2.7.6/D1",
    "driver",
    "derived",
    "The available idx is never more than Queue Size ahead of the chains the device has consumed: the available ring has only Queue Size slots.",
  ],
  [
    "2.7.6/D2",
    "driver",
    "derived",
    "A head the driver makes available is not one the device still holds: a chain is the device's until it comes back in the used ring.",
  ],
  [
    "2.7.7/D1",
    "driver",
    "derived",
    "With VIRTIO_F_EVENT_IDX and notifications wanted, each reap moves used_event to the next unreaped entry; left behind, no notification comes.",
  ],
  [
    "2.7.7/D2",
    "driver",
    "derived",
    "Without VIRTIO_F_EVENT_IDX the driver never stores to used_event: the available ring ends before it.",
  ],
  [
    "2.7.8/D1",
    "device",
    "derived",
    "A used element's id is the head of a chain the driver made available and the device has not returned yet: used entries answer available heads.",
  ],
  [
    "2.7.8/D2",
    "device",
    "derived",
    "The used idx never advances past the number of chains outstanding: the device can only return what the available ring gave it.",
  ],
  [
    "2.7.10/D1",
    "device",
    "derived",
    "After turning available buffer notifications back on, the device reads the available idx again: a driver that saw them off may have published without notifying.",
  ],
  [
    "2.7.10/D2",
    "device",
    "derived",
    "With VIRTIO_F_EVENT_IDX and notifications wanted, each chain taken moves avail_event to the next untaken entry; left behind, no kick comes.",
  ],
  [
    "2.7.10/D3",
    "device",
    "derived",
    "Without VIRTIO_F_EVENT_IDX the device never stores to avail_event: the used ring ends before it, and those bytes are the driver's.",
  ],
  [
    "2.7.13.1/D1",
    "driver",
    "derived",
    "A chain is one descriptor per buffer, in order: its addr and len, VIRTQ_DESC_F_WRITE exactly on device-writable ones, NEXT and next on all but the last.",
  ],
  [
    "2.7.13.1/D2",
    "driver",
    "derived",
    "Chains go only into free descriptors and are freed from the driver's own record, never the shared table: each descriptor is free or in one outstanding chain.",
  ],
  [
    "2.7.13.2/D1",
    "driver",
    "derived",
    "The k-th head placed since idx last moved goes into ring[(idx + k) mod Queue Size]; any other slot exposes a stale or foreign head when idx moves.",
  ],
  [
    "2.7.13.3/D1",
    "driver",
    "derived",
    "The available idx moves by exactly the number of heads placed since it last moved, modulo 2^16 (never modulo Queue Size).",
  ],
  [
    "2.7.14/D1",
    "driver",
    "derived",
    "Turning used buffer notifications back on, the driver reads the used idx again after that store and reaps what it finds: no returned buffer waits unseen.",
  ],
  [
    "2.8/D1",
    "driver",
    "derived",
    "Queue Size of a packed ring is from 1 to 32768 (it need not be a power of two): the ring holds at most 2^15 descriptors.",
  ],
  [
    "2.8/D2",
    "driver",
    "derived",
    "No two parts of a packed queue overlap: the Descriptor Ring holds 16 bytes per descriptor, each Event Suppression structure 4 bytes.",
  ],
  [
    "2.8.1/D1",
    "driver",
    "derived",
    "An available descriptor's VIRTQ_DESC_F_USED bit is the inverse of its VIRTQ_DESC_F_AVAIL bit, which is the driver's wrap counter.",
  ],
  [
    "2.8.3/D1",
    "device",
    "derived",
    "A used descriptor that reports bytes written has VIRTQ_DESC_F_WRITE set: without it the driver ignores its len.",
  ],
  [
    "2.8.4/D1",
    "driver",
    "derived",
    "Every element, indirect table and ring part the driver hands over lies inside guest RAM.",
  ],
  [
    "2.8.4/D2",
    "device",
    "derived",
    "A used descriptor's len counts bytes written to the buffer's device-writable elements: at most their total.",
  ],
  [
    "2.8.6/D1",
    "driver",
    "derived",
    "A Buffer ID names one buffer in flight: the driver reuses an id only after the device has used that buffer.",
  ],
  [
    "2.8.7/D1",
    "driver",
    "derived",
    "An indirect descriptor's len is a nonzero multiple of 16 bytes: whole struct pvirtq_desc entries.",
  ],
  [
    "2.8.10/D1",
    "driver",
    "derived",
    "The driver notifies unless the device's flags say DISABLE; with RING_EVENT_FLAGS_DESC, exactly when the slot and wrap it names were just made available.",
  ],
  [
    "2.8.10/D2",
    "device",
    "derived",
    "The device notifies unless the driver's flags say DISABLE; with RING_EVENT_FLAGS_DESC, exactly when the slot and wrap it names were just used.",
  ],
  [
    "2.8.10/D3",
    "device",
    "derived",
    "Turning available buffer notifications back on, the device looks at its next descriptor again after that store: no buffer waits for a kick already passed.",
  ],
  [
    "2.8.14/D1",
    "driver",
    "derived",
    "The Driver Event Suppression flags are RING_EVENT_FLAGS_ENABLE, _DISABLE, or _DESC with VIRTIO_F_EVENT_IDX; 0x3 and the reserved bits stay clear.",
  ],
  [
    "2.8.14/D2",
    "device",
    "derived",
    "The Device Event Suppression flags are RING_EVENT_FLAGS_ENABLE, _DISABLE, or _DESC with VIRTIO_F_EVENT_IDX; 0x3 and the reserved bits stay clear.",
  ],
  [
    "2.8.22/D1",
    "device",
    "derived",
    "A used descriptor's Buffer ID names a buffer the driver made available and the device has not used yet.",
  ],
  [
    "2.8.22/D2",
    "driver",
    "derived",
    "Turning used buffer notifications back on, the driver looks at the next used descriptor again after that store, so no used buffer waits unseen.",
  ],
  [
    "3.2.1/D1",
    "device",
    "derived",
    "A configuration change the device makes is announced with a configuration change notification once DRIVER_OK is set, and not before (§3.2, §3.2.1).",
  ],
  [
    "4.2.2/D1",
    "device",
    "derived",
    "DeviceID and VendorID read the device's own IDs as unsigned 32-bit values, and no other register reads as an identification value (§4.2.2 table).",
  ],
  [
    "4.2.3.2/D1",
    "driver",
    "derived",
    "QueueReady is set to 1 only after QueueNum and the three area addresses hold usable values, following the step order of §4.2.3.2.",
  ],
  [
    "4.2.3.3/D1",
    "driver",
    "derived",
    "A QueueNotify write names a queue that exists and is ready: a notification of §4.2.3.3 is about a live queue.",
  ],
  [
    "4.2.4/D1",
    "driver",
    "derived",
    "On a legacy (version 1) MMIO device, GuestPageSize (a power of two) is written before any QueuePFN, and QueueAlign is a power of two of at least 4 (§4.2.4).",
  ],
  [
    "4.2.4/D2",
    "driver",
    "derived",
    "On a legacy MMIO device, a nonzero QueuePFN names the first page of vring_size(QueueNum, QueueAlign) bytes laid out as §2.7.2 says, after a valid QueueNum.",
  ],
  [
    "4.2.4/D3",
    "driver",
    "derived",
    "On a legacy MMIO device, QueueNum and QueueAlign are written, QueueNumMax read and a new QueuePFN set only while QueuePFN is 0: stop a queue before changing it.",
  ],
  [
    "4.2.4/D4",
    "driver",
    "derived",
    "A driver of a legacy MMIO device skips FEATURES_OK (§3.1.2) and accepts features in word 0 only (32 bits), all of them before DRIVER_OK.",
  ],
  [
    "4.2.4/D5",
    "device",
    "derived",
    "A legacy MMIO device offers 32 feature bits: DeviceFeatures reads 0 for any DeviceFeaturesSel but 0, so VIRTIO_F_VERSION_1 is never offered.",
  ],
  [
    "4.2.4/D6",
    "device",
    "derived",
    "A legacy MMIO device's QueuePFN reads the page number of the queue in use, 0 once the driver wrote 0 and after a device reset (Status 0 clears every QueuePFN).",
  ],
  [
    "5.2.3/D1",
    "driver",
    "derived",
    "With VIRTIO_BLK_F_SEG_MAX or _SIZE_MAX negotiated, a request has at most seg_max data segments, each at most size_max bytes.",
  ],
  [
    "5.2.4/D1",
    "device",
    "derived",
    "A device offering VIRTIO_BLK_F_DISCARD or _WRITE_ZEROES sets that command's max sectors and max segments to at least 1.",
  ],
  [
    "5.2.5/D1",
    "driver",
    "derived",
    "A driver that cuts a discard inside a range cuts on a multiple of discard_sector_alignment when that leaves a piece.",
  ],
  [
    "5.2.6/D1",
    "driver",
    "derived",
    "A block request starts with a 16-byte device-readable header (type, reserved, sector), the head of struct virtio_blk_req.",
  ],
  [
    "5.2.6/D2",
    "driver",
    "derived",
    "A block request ends with a device-writable status byte: its last writable buffer holds at least 1 byte (the tail of struct virtio_blk_req).",
  ],
  [
    "5.2.6/D3",
    "driver",
    "derived",
    "Data is device-writable for IN and GET_ID, device-readable for OUT and the segments of DISCARD and WRITE_ZEROES, absent for FLUSH (§5.2.6).",
  ],
  [
    "5.2.6/D4",
    "driver",
    "derived",
    "Each discard or write zeroes segment lies inside capacity: sector + num_sectors does not pass it, computed without wrap-around.",
  ],
  [
    "5.2.6/D5",
    "driver",
    "derived",
    "A discard segment covers at most max_discard_sectors sectors, a write zeroes segment at most max_write_zeroes_sectors.",
  ],
  [
    "5.3.6.2/D1",
    "driver",
    "derived",
    "A control transmitq buffer holds a whole 8-byte struct virtio_console_control with DEVICE_READY, PORT_READY or PORT_OPEN.",
  ],
  [
    "5.3.6.2/D2",
    "driver",
    "derived",
    "PORT_READY answers, once, a DEVICE_ADD the device sent; PORT_OPEN names a port the driver has made ready.",
  ],
  [
    "5.3.6.2/D3",
    "device",
    "derived",
    "A control message from the device is a whole struct virtio_console_control with a device event; a RESIZE carries its cols and rows.",
  ],
  [
    "5.3.6.2/D4",
    "device",
    "derived",
    "CONSOLE_PORT, RESIZE, PORT_OPEN and PORT_NAME name a port the device added and has not removed.",
  ],
  [
    "5.3.6.2/D5",
    "device",
    "derived",
    "The device sends no control message before the driver's DEVICE_READY: the ports are announced in answer to it.",
  ],
] as const satisfies readonly Row[];

// The generated literal types must name exactly the ids of the tables above:
// a stale requirement_ids.ts fails to compile here (deno task requirement-ids).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const NORMATIVE_IDS_CURRENT: Same<(typeof NORMATIVE)[number][0], NormativeId> = true;
const DERIVED_IDS_CURRENT: Same<(typeof DERIVED)[number][0], DerivedId> = true;
void NORMATIVE_IDS_CURRENT, DERIVED_IDS_CURRENT;

function build(
  rows: readonly (readonly [RequirementId, Role, RequirementLevel, string])[],
): Requirement[] {
  return rows.map(([id, role, level, summary]) => {
    const section = id.slice(0, id.indexOf("/"));
    return {
      id,
      section,
      sectionTitle: SECTION_TITLES[section] ?? `§${section}`,
      role,
      level,
      summary,
    };
  });
}

/** Every normative statement of the covered sections, in spec order. */
export const NORMATIVE_REQUIREMENTS: readonly Requirement[] = build(NORMATIVE);

/** The derived rules, in section order. */
export const DERIVED_RULES: readonly Requirement[] = build(DERIVED);

const BY_ID: ReadonlyMap<string, Requirement> = new Map<string, Requirement>(
  [...NORMATIVE_REQUIREMENTS, ...DERIVED_RULES].map((r) => [r.id, r]),
);

/**
 * Looks up a requirement or derived rule by id.
 *
 * @param id Such as `"4.2.2.2/7"` or `"2.7.5/D1"`.
 * @returns The requirement, or `undefined` when the id is unknown.
 */
export function findRequirement(id: string): Requirement | undefined {
  return BY_ID.get(id);
}

/**
 * Whether a string is an id of the requirement table (for ids that arrive as
 * data: lesson metadata, a grader's JSON report, command-line input).
 *
 * @param id Any string.
 */
export function isRequirementId(id: string): id is RequirementId {
  return BY_ID.has(id);
}

/**
 * Looks up a requirement or derived rule by id, failing loudly on a typo.
 *
 * @param id Such as `"4.2.2.2/7"` or `"2.7.5/D1"`.
 * @throws {RangeError} When no requirement has that id.
 */
export function requirement(id: RequirementId | string): Requirement {
  const found = BY_ID.get(id);
  if (!found) throw new RangeError(`Unknown requirement id "${id}"`);
  return found;
}
