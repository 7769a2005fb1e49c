// The reference for lesson 6: the library's own implementation, bound to the exercise's names.
export { addChain } from "../../virtqueue/driver/add.ts";
export { detachChain } from "../../virtqueue/driver/detach.ts";
export { readChain, writeChain } from "../../virtqueue/chain.ts";
