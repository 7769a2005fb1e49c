// The reference: the library's own implementation, bound to the exercise's name.
export { walkChain } from "../../virtqueue/device/walk.ts";
