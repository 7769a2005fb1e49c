// The reference for "virtio-blk requests": the library's own implementation, bound to the exercise's names.
export {
  buildBlockRequest,
  completeBlockRequest,
  finishBlockRequest,
  parseBlockRequest,
} from "../../devices/blk/request.ts";
