// The reference for "virtio-blk limits": the library's own implementation, bound to the exercise's names.
export { blockConfigSpace, readBlockConfig } from "../../devices/blk/config.ts";
export { executeBlockRequest } from "../../devices/blk/io.ts";
export { blockTransferLimits, splitTransfer } from "../../devices/blk/transfer.ts";
