/**
 * The replaceable parts of the virtio block device and driver (registry
 * layer `blk`): each is a plain function over plain records, and
 * `VirtioBlockDevice` and `VirtioBlockDriver` call every
 * step through a table of them, so a learner's function can stand in for any
 * one of them while the rest stay the reference.
 *
 * Device side (`blk.device.*`): parse a popped chain, do its backend I/O,
 * complete it, lay out the configuration space; check and do discard and
 * write zeroes segments. Driver side (`blk.driver.*`): read the
 * configuration, derive the request limits, split a transfer into requests,
 * build a request chain, finish a request from its status; read the discard
 * limits, cut ranges into discard requests and build them.
 *
 * @module
 */

import { blockConfigSpace, readBlockConfig } from "./config.ts";
import {
  buildDiscardRequest,
  executeDiscardRequest,
  layoutDiscardConfig,
  parseDiscardRequest,
  readDiscardConfig,
  splitDiscard,
} from "./discard.ts";
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
  /** Writes the discard and write zeroes limits into the configuration bytes (§5.2.4). */
  readonly layoutDiscardConfig: typeof layoutDiscardConfig;
  /** Checks a discard or write zeroes request's segments and reads them (§5.2.6). */
  readonly parseDiscardRequest: typeof parseDiscardRequest;
  /** Discards or zeroes an accepted request's segments on the backend (5.2.6.2/4-6). */
  readonly executeDiscardRequest: typeof executeDiscardRequest;
}

/** The reference device-side parts. */
export const REFERENCE_BLOCK_DEVICE_PARTS: BlockDeviceParts = Object.freeze({
  parseBlockRequest,
  executeBlockRequest,
  completeBlockRequest,
  blockConfigSpace,
  layoutDiscardConfig,
  parseDiscardRequest,
  executeDiscardRequest,
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
  /** Reads the discard and write zeroes limits under the generation loop (§5.2.4). */
  readonly readDiscardConfig: typeof readDiscardConfig;
  /** Cuts the next discard or write zeroes request off a list of ranges. */
  readonly splitDiscard: typeof splitDiscard;
  /** Writes a discard or write zeroes request's header and segments and lists its chain (§5.2.6). */
  readonly buildDiscardRequest: typeof buildDiscardRequest;
}

/** The reference driver-side parts. */
export const REFERENCE_BLOCK_DRIVER_PARTS: BlockDriverParts = Object.freeze({
  readBlockConfig,
  blockTransferLimits,
  splitTransfer,
  buildBlockRequest,
  finishBlockRequest,
  readDiscardConfig,
  splitDiscard,
  buildDiscardRequest,
});
