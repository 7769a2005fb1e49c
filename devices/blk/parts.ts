/**
 * The replaceable parts of the virtio block device and driver (registry
 * layer `blk`): each is a plain function over plain records, and
 * `VirtioBlockDevice` and `VirtioBlockDriver` call every
 * step through a table of them, so a learner's function can stand in for any
 * one of them while the rest stay the reference.
 *
 * Device side (`blk.device.*`): parse a popped chain, do its backend I/O,
 * complete it, lay out the configuration space. Driver side (`blk.driver.*`):
 * read the configuration, derive the request limits, split a transfer into
 * requests, build a request chain, finish a request from its status.
 *
 * @module
 */

import { blockConfigSpace, readBlockConfig } from "./config.ts";
import { executeBlockRequest } from "./io.ts";
import {
  buildBlockRequest,
  completeBlockRequest,
  finishBlockRequest,
  parseBlockRequest,
} from "./request.ts";
import { blockTransferLimits, splitTransfer } from "./transfer.ts";

/** The device-side parts of virtio-blk. */
export interface BlockDeviceParts {
  /** Validates a popped chain and says what to do with it (§5.2.6). */
  readonly parseBlockRequest: typeof parseBlockRequest;
  /** Does an accepted request's backend work (§5.2.6, 5.2.6.2/9). */
  readonly executeBlockRequest: typeof executeBlockRequest;
  /** Writes the status byte (and zeroes unfilled data); returns the used `len`. */
  readonly completeBlockRequest: typeof completeBlockRequest;
  /** Lays out `struct virtio_blk_config` (§5.2.4). */
  readonly blockConfigSpace: typeof blockConfigSpace;
}

/** The reference device-side parts. */
export const REFERENCE_BLOCK_DEVICE_PARTS: BlockDeviceParts = Object.freeze({
  parseBlockRequest,
  executeBlockRequest,
  completeBlockRequest,
  blockConfigSpace,
});

/** The driver-side parts of virtio-blk. */
export interface BlockDriverParts {
  /** Reads `capacity` and the negotiated limits under the generation loop (§5.2.4). */
  readonly readBlockConfig: typeof readBlockConfig;
  /** Derives `seg_max`, `size_max` and the request size the driver uses. */
  readonly blockTransferLimits: typeof blockTransferLimits;
  /** Cuts the next request, as data segments, off a transfer. */
  readonly splitTransfer: typeof splitTransfer;
  /** Writes a request's header and lists its chain (§5.2.6). */
  readonly buildBlockRequest: typeof buildBlockRequest;
  /** Turns a completed request's status byte into a result. */
  readonly finishBlockRequest: typeof finishBlockRequest;
}

/** The reference driver-side parts. */
export const REFERENCE_BLOCK_DRIVER_PARTS: BlockDriverParts = Object.freeze({
  readBlockConfig,
  blockTransferLimits,
  splitTransfer,
  buildBlockRequest,
  finishBlockRequest,
});
