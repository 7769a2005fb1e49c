// Mistake: The device half of an earlier lesson left as it was: a chain walk with no bound on its
// length, which a hostile driver's loop keeps going for ever.
// Source: QEMU virtqueue_split_pop's "Looped descriptor" check, and CVE-2016-7422's class
// Must fail: "10,000 hostile chains: your device half never crashes" [2.7.5.3.1/3]
export * from "../correct/switch_and_try.ts";
export { walkChain } from "../../09-device-pop/wrong/no_loop_bound.ts";
