// The reference for "Configuration space and ConfigGeneration": the library's own implementation,
// bound to the exercise's names.
export { checkConfigAccess, configChanged } from "../../transport/config_space.ts";
export { readConfig64, readConfigConsistent } from "../../transport/driver_config.ts";
