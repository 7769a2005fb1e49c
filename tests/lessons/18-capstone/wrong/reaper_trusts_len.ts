// Mistake: The driver half of an earlier lesson left as it was: the used len handed on without a
// look at the chain's writable bytes.
// Source: Linux d00d8da5869a "virtio_console: Assure used length from device is limited" (CVE-2021-38160)
// Must fail: "10,000 hostile used rings: your driver half never crashes" [2.7.8/D2]
export * from "../correct/switch_and_try.ts";
export { getBuf } from "../../10-used-ring/wrong/trusts_len.ts";
