// The reference for "virtio-blk discard and write zeroes": the library's own implementation, bound to the exercise's names.
export {
  buildDiscardRequest,
  executeDiscardRequest,
  layoutDiscardConfig,
  parseDiscardRequest,
  readDiscardConfig,
  splitDiscard,
} from "../../devices/blk/discard.ts";
