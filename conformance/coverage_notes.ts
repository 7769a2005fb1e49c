/**
 * Requirements that no check here can cover, and why: {@linkcode UNCHECKABLE}
 * lists those the other side of the virtio interface cannot check,
 * {@linkcode NOT_OFFERED} those of features this lab never offers. The
 * coverage table (`docs/COVERAGE.md`, built by `tools/coverage.ts`) shows
 * these reasons in place of a check (docs/ARCHITECTURE.md §3). An id is in at most one
 * of the two; the coverage tool refuses an id in both.
 *
 * A requirement belongs here only when no check by the other side can see it
 * broken: the device cannot observe it in what the driver does (for driver
 * rules), or the driver cannot observe it in what the device does (for device
 * rules). Typical reasons: it is about what one side assumes rather than what
 * it does, it is about memory barriers themselves (which CPU reordering they
 * prevent is invisible in this single-threaded model), it concerns PCI only,
 * it depends on a backend or platform the other side cannot see, or it is a
 * MAY statement (a permission, nothing to break). Rules the reference code
 * can check, even ones it does not check yet, are not listed: the coverage
 * table shows those as gaps.
 *
 * The *store order* a barrier protects is another matter: it is observable
 * by running the other side after every single store (the grading kit's
 * concurrent observers, `lessons/kit/observer.ts`). So the rules whose
 * barrier orders a side's own stores and loads (the chain before the
 * available `idx`, 2.7.13.3.1/1; the `idx` store before reading `flags` or
 * `avail_event`, 2.7.13.4.1/1; the used element before the used `idx`,
 * 2.7.8.2/1) are checked, not listed here.
 *
 * @module
 */

const MAY = "A MAY statement grants a permission; there is nothing to break, so nothing to check.";
const BARRIER =
  "Memory barriers order accesses between CPUs; the lab runs both sides in one thread, where no reordering can be seen.";
const SR_IOV =
  "SR-IOV exists only on PCI; this lab's transport is MMIO, whose devices never offer VIRTIO_F_SR_IOV.";

/**
 * Requirement ids that cannot be checked from the other side, each with a
 * one-line reason. Keys are ids of `NORMATIVE_REQUIREMENTS` (see
 * `requirements.ts`); derived rules are all checkable and never appear here.
 */
export const UNCHECKABLE: Readonly<Record<string, string>> = Object.freeze({
  // Driver rules the device cannot observe.
  "2.7.4.2/2":
    "'Excessive' has no threshold: any chain within the queue size is legal, so there is no line for the device to hold.",
  "4.2.3.1.1/3":
    "The device cannot know whether the driver expects shared memory; reading the SHM registers is legal for one that does.",
  "2.1.1/4":
    "It is about what the driver assumes after DEVICE_NEEDS_RESET, not what it does; the device sees no difference.",
  "2.2.1/2":
    "The device cannot know which missing feature the driver needed, nor whether the driver fell back to a compatibility mode.",
  "2.5.1/2":
    "Refusing a larger configuration space happens inside the driver; the device only sees reads, or none at all.",
  "2.5.1/3":
    "How the driver validates the configuration space size is internal to it; the device only sees the reads.",
  "2.6.1.1.2/2": MAY,
  "2.8.16/4": MAY,
  "2.8.17/4":
    "It is about what the driver assumes of the device's used descriptors, not what it writes; the device cannot see an assumption.",
  "2.7.7.1/3":
    "Handling a spurious used buffer notification is internal to the driver; the device cannot tell (tests inject such notifications instead).",
  "2.7.8.3/1":
    "It is about what the driver assumes of bytes past len; the device cannot see the driver's assumptions.",
  "4.2.2.2/12":
    "Ignoring unknown InterruptStatus bits is internal to the driver; the device never learns how the driver read them.",
  "4.2.2.2/15": MAY,
  "4.2.2.2/16": MAY,
  "4.2.3.4.1/2":
    "Which queues the driver scans after a used buffer interrupt is internal to it; the device sees no register access either way.",
  "5.2.5.1/1":
    "Whether the driver is able to send flush requests is internal to it; the device only sees the negotiated feature bit.",
  "5.2.5.1/2": MAY,
  "5.2.5.1/3":
    "It is about which cache mode the driver assumes, not anything it sends to the device.",
  "5.2.6.1/11": MAY,
  "5.2.6.1/12":
    "It is about what the driver assumes of durability after writing writeback, not what it does.",
  "5.2.6.1/14":
    "It is about what the driver assumes of discarded sectors, not what it does; the device cannot see assumptions.",
  "5.2.6.1/15":
    "It is about what the driver assumes after a failed multi-segment request, not what it does.",
  "6.1/2": MAY,
  "6.1/7": BARRIER,
  "6.1/8": `${MAY} Also, ${SR_IOV}`,
  "6.1/9": `${SR_IOV} Accepting it anyway is caught as a feature that was not offered (2.2.1/1).`,
  "6.1/10": `${SR_IOV} Virtual functions are enabled through PCI configuration space.`,
  "6.1/11": `${MAY} Also, ${SR_IOV}`,

  // Device rules the driver cannot observe.
  "2.7.4.1/1":
    "A device that relies on a layout just fails the request; the driver cannot tell why (tests post unusual layouts instead).",
  "2.7.4.1/2": MAY,
  "2.7.5.3.2/1":
    "How the device reads the flag is internal to it; the driver only sees the request's outcome (tests set the flag instead).",
  "2.7.5.3.2/2":
    "A device that rejects the mixed chain just fails the request; the driver cannot tell why (tests post such chains instead).",
  "2.7.8.2/3": MAY,
  "2.8.12/3": MAY,
  "2.8.18/2": MAY,
  "2.7.10.2/3":
    "Handling a spurious available buffer notification is internal to the device; the driver cannot tell (tests send extra notifications instead).",
  "5.2.6.2/4": MAY,
  "5.2.6.2/5": MAY,
  "5.2.6.2/7":
    "Whether write zeroes can deallocate depends on the device's backend, which the driver cannot see.",
  "5.2.6.2/8":
    "Whether and when the device changes write_zeroes_may_unmap is up to its backend; the driver sees a configuration change either way and rereads the limits.",
  "5.2.6.2/9":
    "Persistence happens between the device and its backend storage; the driver cannot see when data reaches the medium.",
  "5.2.6.2/10": MAY,
  "5.2.6.2/11": "Whether the backing storage provides lifetime metrics is invisible to the driver.",
  "5.2.6.2/12":
    "Whether the backing storage provides meaningful lifetime metrics is invisible to the driver.",
  "5.3.5.1/1":
    "A write to emerg_wr returns nothing to the driver; only the device's output shows whether it was accepted.",
  "5.3.5.1/2":
    "Where the emergency byte goes is up to the device and its backend; the driver cannot see that output.",
  "6.2/2": MAY,
  "6.2/3":
    "How the platform connects the device to memory is invisible to the driver, so it cannot tell whether the bit should be offered.",
  "6.2/4": MAY,
  "6.2/6": MAY,
  "6.2/7": MAY,
});

const NO_BLK = "which the block device never offers (devices/blk/device.ts)";

/**
 * Requirements that apply only to a feature or an interface this lab neither
 * offers nor negotiates, each with a one-line reason naming it: a feature bit
 * by its constant name (`VIRTIO_F_IN_ORDER`, `VIRTIO_BLK_F_DISCARD`, ...) or
 * the legacy interface. None of the lab's devices (`devices/*\/device.ts`)
 * offers these bits, none of its drivers accepts them, and every MMIO window
 * reads Version 2, so nothing here can break these rules or see them broken.
 * `tests/tools/coverage_test.ts` checks that against the real device and
 * driver classes and that no source checks an id listed here. Keys are ids of
 * `NORMATIVE_REQUIREMENTS` or `DERIVED_RULES` that are not in
 * {@linkcode UNCHECKABLE}; when a device starts offering one of these
 * features, its rules leave this list and need checks.
 */
export const NOT_OFFERED: Readonly<Record<string, string>> = Object.freeze({
  // Virtqueue and reserved feature bits (chapter 6).
  "2.7.5.3.1/5":
    "Applies only with VIRTIO_F_IN_ORDER negotiated; no device here offers it and no driver here accepts it.",
  "6.1/3":
    "Applies only when a device offers VIRTIO_F_ACCESS_PLATFORM; no device here does, so all addresses are guest-physical.",
  "2.8.16/3":
    "Applies only with VIRTIO_F_NOTIFICATION_DATA negotiated; no device here offers it, so a notification is the queue index alone.",
  "6.1/6": "Applies only when a device offers VIRTIO_F_ORDER_PLATFORM; no device here does.",
  "6.1/12": "Applies only when a device offers VIRTIO_F_NOTIF_CONFIG_DATA; no device here does.",
  "6.2/5":
    "Applies only with VIRTIO_F_IN_ORDER negotiated; no device here offers it and no driver here accepts it.",

  // Block features (§5.2).
  "5.2.5.1/4": `The writeback field exists only with VIRTIO_BLK_F_CONFIG_WCE, ${NO_BLK}.`,
  "5.2.5.2/2": `Applies only when VIRTIO_BLK_F_CONFIG_WCE is negotiated, ${NO_BLK}.`,
  "5.2.6.1/9": `Secure erase requests need VIRTIO_BLK_F_SECURE_ERASE, ${NO_BLK}.`,
  "5.2.6.2/13": `Lifetime data exists only with VIRTIO_BLK_F_LIFETIME, ${NO_BLK}.`,
});
