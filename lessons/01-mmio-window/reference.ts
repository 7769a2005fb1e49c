// The reference for lesson 1: the library's own implementation, bound to the exercise's names.
export { checkRegisterAccess, readIdentification } from "../../transport/mmio_registers.ts";
export { probeWindow } from "../../transport/mmio_driver.ts";
