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

/** Which side of the virtio interface a requirement binds. */
export type Role = "driver" | "device";

/** RFC 2119 level of a normative statement; `"derived"` for derived rules. */
export type RequirementLevel = "MUST" | "SHOULD" | "MAY" | "derived";

/** One normative statement (or derived rule) and what it says, in brief. */
export interface Requirement {
  /** Stable id, `SECTION/ORDINAL` (normative) or `SECTION/Dn` (derived). */
  readonly id: string;
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
  ["2.7.13.3.1", "Driver Requirements: Updating idx"],
  ["2.7.13.4.1", "Driver Requirements: Notifying The Device"],
  ["3.1", "Device Initialization"],
  ["3.1.1", "Driver Requirements: Device Initialization"],
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
  ["5.2.4", "Device configuration layout"],
  ["5.2.5.1", "Driver Requirements: Device Initialization"],
  ["5.2.5.2", "Device Requirements: Device Initialization"],
  ["5.2.6", "Device Operation"],
  ["5.2.6.1", "Driver Requirements: Device Operation"],
  ["5.2.6.2", "Device Requirements: Device Operation"],
  ["5.3", "Console Device"],
  ["5.3.4", "Device configuration layout"],
  ["5.3.5", "Device Initialization"],
  ["5.3.5.1", "Device Requirements: Device Initialization"],
  ["5.3.6", "Device Operation"],
  ["5.3.6.1", "Driver Requirements: Device Operation"],
  ["5.3.6.2.1", "Device Requirements: Multiport Device Operation"],
  ["5.3.6.2.2", "Driver Requirements: Multiport Device Operation"],
  ["6", "Reserved Feature Bits"],
  ["6.1", "Driver Requirements: Reserved Feature Bits"],
  ["6.2", "Device Requirements: Reserved Feature Bits"],
]);

type Row = readonly [id: string, role: Role, level: RequirementLevel, summary: string];

// [id, role, level, summary]
const NORMATIVE: readonly Row[] = [
  ["2.1.1/1", "driver", "MUST", ""],
  ["2.1.1/2", "driver", "MUST", ""],
  ["2.1.1/3", "driver", "MUST", ""],
  ["2.1.1/4", "driver", "SHOULD", ""],
  ["2.1.2/1", "device", "MUST", ""],
  ["2.1.2/2", "device", "MUST", ""],
  ["2.2.1/1", "driver", "MUST", ""],
  ["2.2.1/2", "driver", "MUST", ""],
  ["2.2.2/1", "device", "MUST", ""],
  ["2.2.2/2", "device", "MUST", ""],
  ["2.2.2/3", "device", "SHOULD", ""],
  ["2.4.1/1", "device", "MUST", ""],
  ["2.4.1/2", "device", "MUST", ""],
  ["2.4.2/1", "driver", "SHOULD", ""],
  ["2.5.1/1", "driver", "MUST", ""],
  ["2.5.1/2", "driver", "MUST", ""],
  ["2.5.1/3", "driver", "SHOULD", ""],
  ["2.5.2/1", "device", "MUST", ""],
  ["2.6.1.1.1/1", "device", "MUST", ""],
  ["2.6.1.1.1/2", "device", "MUST", ""],
  ["2.6.1.1.2/1", "driver", "MUST", ""],
  ["2.6.1.1.2/2", "driver", "MAY", ""],
  ["2.6.1.2.1/1", "device", "MUST", ""],
  ["2.6.1.2.2/1", "driver", "MUST", ""],
  ["2.7.1/1", "driver", "MUST", ""],
  ["2.7.4.1/1", "device", "MUST", ""],
  ["2.7.4.1/2", "device", "MAY", ""],
  ["2.7.4.2/1", "driver", "MUST", ""],
  ["2.7.4.2/2", "driver", "SHOULD", ""],
  ["2.7.5.1/1", "device", "MUST", ""],
  ["2.7.5.1/2", "device", "MUST", ""],
  ["2.7.5.2/1", "driver", "MUST", ""],
  ["2.7.5.3.1/1", "driver", "MUST", ""],
  ["2.7.5.3.1/2", "driver", "MUST", ""],
  ["2.7.5.3.1/3", "driver", "MUST", ""],
  ["2.7.5.3.1/4", "driver", "MUST", ""],
  ["2.7.5.3.1/5", "driver", "MUST", ""],
  ["2.7.5.3.2/1", "device", "MUST", ""],
  ["2.7.5.3.2/2", "device", "MUST", ""],
  ["2.7.6.1/1", "driver", "MUST", ""],
  ["2.7.7.1/1", "driver", "MUST", ""],
  ["2.7.7.1/2", "driver", "MUST", ""],
  ["2.7.7.1/3", "driver", "MUST", ""],
  ["2.7.7.2/1", "device", "MUST", ""],
  ["2.7.7.2/2", "device", "MUST", ""],
  ["2.7.8.2/1", "device", "MUST", ""],
  ["2.7.8.2/2", "device", "MUST", ""],
  ["2.7.8.2/3", "device", "MAY", ""],
  ["2.7.8.3/1", "driver", "MUST", ""],
  ["2.7.10.1/1", "driver", "MUST", ""],
  ["2.7.10.1/2", "driver", "MUST", ""],
  ["2.7.10.1/3", "driver", "MUST", ""],
  ["2.7.10.2/1", "device", "MUST", ""],
  ["2.7.10.2/2", "device", "MUST", ""],
  ["2.7.10.2/3", "device", "MUST", ""],
  ["2.7.13.3.1/1", "driver", "MUST", ""],
  ["2.7.13.4.1/1", "driver", "MUST", ""],
  ["3.1.1/1", "driver", "MUST", ""],
  ["3.1.1/2", "driver", "MUST", ""],
  ["3.1.1/3", "driver", "MUST", ""],
  ["3.1.1/4", "driver", "SHOULD", ""],
  ["3.1.1/5", "driver", "MUST", ""],
  ["3.1.1/6", "driver", "MUST", ""],
  ["4.2.2.1/1", "device", "MUST", ""],
  ["4.2.2.1/2", "device", "MUST", ""],
  ["4.2.2.1/3", "device", "MUST", ""],
  ["4.2.2.1/4", "device", "MUST", ""],
  ["4.2.2.1/5", "device", "MUST", ""],
  ["4.2.2.1/6", "device", "MUST", ""],
  ["4.2.2.1/7", "device", "MUST", ""],
  ["4.2.2.1/8", "device", "MUST", ""],
  ["4.2.2.1/9", "device", "MUST", ""],
  ["4.2.2.1/10", "device", "MUST", ""],
  ["4.2.2.1/11", "device", "MUST", ""],
  ["4.2.2.1/12", "device", "MUST", ""],
  ["4.2.2.2/1", "driver", "MUST", ""],
  ["4.2.2.2/2", "driver", "MUST", ""],
  ["4.2.2.2/3", "driver", "MUST", ""],
  ["4.2.2.2/4", "driver", "MUST", ""],
  ["4.2.2.2/5", "driver", "MUST", ""],
  ["4.2.2.2/6", "driver", "MUST", ""],
  ["4.2.2.2/7", "driver", "MUST", ""],
  ["4.2.2.2/8", "driver", "MUST", ""],
  ["4.2.2.2/9", "driver", "MUST", ""],
  ["4.2.2.2/10", "driver", "MUST", ""],
  ["4.2.2.2/11", "driver", "MUST", ""],
  ["4.2.2.2/12", "driver", "MUST", ""],
  ["4.2.2.2/13", "driver", "MUST", ""],
  ["4.2.2.2/14", "driver", "MUST", ""],
  ["4.2.2.2/15", "driver", "MAY", ""],
  ["4.2.2.2/16", "driver", "MAY", ""],
  ["4.2.3.1.1/1", "driver", "MUST", ""],
  ["4.2.3.1.1/2", "driver", "MUST", ""],
  ["4.2.3.1.1/3", "driver", "MUST", ""],
  ["4.2.3.1.1/4", "driver", "MUST", ""],
  ["4.2.3.4.1/1", "driver", "MUST", ""],
  ["4.2.3.4.1/2", "driver", "SHOULD", ""],
  ["4.2.3.4.1/3", "driver", "MUST", ""],
  ["5.2.5.1/1", "driver", "SHOULD", ""],
  ["5.2.5.1/2", "driver", "MAY", ""],
  ["5.2.5.1/3", "driver", "SHOULD", ""],
  ["5.2.5.1/4", "driver", "MUST", ""],
  ["5.2.5.2/1", "device", "MUST", ""],
  ["5.2.5.2/2", "device", "MUST", ""],
  ["5.2.5.2/3", "device", "MUST", ""],
  ["5.2.6.1/1", "driver", "MUST", ""],
  ["5.2.6.1/2", "driver", "SHOULD", ""],
  ["5.2.6.1/3", "driver", "MUST", ""],
  ["5.2.6.1/4", "driver", "SHOULD", ""],
  ["5.2.6.1/5", "driver", "MUST", ""],
  ["5.2.6.1/6", "driver", "MUST", ""],
  ["5.2.6.1/7", "driver", "MUST", ""],
  ["5.2.6.1/8", "driver", "MUST", ""],
  ["5.2.6.1/9", "driver", "MUST", ""],
  ["5.2.6.1/10", "driver", "MUST", ""],
  ["5.2.6.1/11", "driver", "MAY", ""],
  ["5.2.6.1/12", "driver", "MUST", ""],
  ["5.2.6.1/13", "driver", "MUST", ""],
  ["5.2.6.1/14", "driver", "MUST", ""],
  ["5.2.6.1/15", "driver", "MUST", ""],
  ["5.2.6.2/1", "device", "MUST", ""],
  ["5.2.6.2/2", "device", "MUST", ""],
  ["5.2.6.2/3", "device", "MUST", ""],
  ["5.2.6.2/4", "device", "MAY", ""],
  ["5.2.6.2/5", "device", "MAY", ""],
  ["5.2.6.2/6", "device", "MUST", ""],
  ["5.2.6.2/7", "device", "SHOULD", ""],
  ["5.2.6.2/8", "device", "SHOULD", ""],
  ["5.2.6.2/9", "device", "MUST", ""],
  ["5.2.6.2/10", "device", "MAY", ""],
  ["5.2.6.2/11", "device", "SHOULD", ""],
  ["5.2.6.2/12", "device", "MUST", ""],
  ["5.2.6.2/13", "device", "MUST", ""],
  ["5.3.5.1/1", "device", "MUST", ""],
  ["5.3.5.1/2", "device", "SHOULD", ""],
  ["5.3.6.1/1", "driver", "MUST", ""],
  ["5.3.6.1/2", "driver", "MUST", ""],
  ["5.3.6.2.1/1", "device", "MUST", ""],
  ["5.3.6.2.1/2", "device", "MUST", ""],
  ["5.3.6.2.2/1", "driver", "MUST", ""],
  ["5.3.6.2.2/2", "driver", "MUST", ""],
  ["6.1/1", "driver", "MUST", ""],
  ["6.1/2", "driver", "MAY", ""],
  ["6.1/3", "driver", "MUST", ""],
  ["6.1/4", "driver", "MUST", ""],
  ["6.1/5", "driver", "SHOULD", ""],
  ["6.1/6", "driver", "SHOULD", ""],
  ["6.1/7", "driver", "MUST", ""],
  ["6.1/8", "driver", "MAY", ""],
  ["6.1/9", "driver", "MUST", ""],
  ["6.1/10", "driver", "MUST", ""],
  ["6.1/11", "driver", "MAY", ""],
  ["6.1/12", "driver", "SHOULD", ""],
  ["6.2/1", "device", "MUST", ""],
  ["6.2/2", "device", "MAY", ""],
  ["6.2/3", "device", "SHOULD", ""],
  ["6.2/4", "device", "MAY", ""],
  ["6.2/5", "device", "MUST", ""],
  ["6.2/6", "device", "MAY", ""],
  ["6.2/7", "device", "MAY", ""],
  ["6.2/8", "device", "MUST", ""],
];

// Derived rules: checks that follow from the spec's structure. [id, role, level, summary]
const DERIVED: readonly Row[] = [];

function build(rows: readonly Row[]): Requirement[] {
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

const BY_ID: ReadonlyMap<string, Requirement> = new Map(
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
 * Looks up a requirement or derived rule by id, failing loudly on a typo.
 *
 * @param id Such as `"4.2.2.2/7"` or `"2.7.5/D1"`.
 * @throws {RangeError} When no requirement has that id.
 */
export function requirement(id: string): Requirement {
  const found = BY_ID.get(id);
  if (!found) throw new RangeError(`Unknown requirement id "${id}"`);
  return found;
}
