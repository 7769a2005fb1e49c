// The reference for "Capstone: your machine": the library's own implementation, bound to the
// exercise's names; the earlier lessons' parts through their own reference bindings (named, so
// that `lab solution` can follow each to the library).
export {
  checkRegisterAccess,
  probeWindow,
  readIdentification,
} from "../01-mmio-window/reference.ts";
export {
  addStatus,
  beginInitialization,
  failDevice,
  nextDeviceStatus,
  resetDevice,
} from "../02-status-reset/reference.ts";
export {
  checkDriverFeatures,
  negotiateFeatures,
  readDeviceFeatures,
  writeDriverFeatures,
} from "../03-feature-negotiation/reference.ts";
export {
  allocateQueueAreas,
  queueAreaProblem,
  splitQueueLayout,
} from "../04-virtqueue-layout/reference.ts";
export { setupQueue, stopQueue, writeQueueRegister } from "../05-queue-setup/reference.ts";
export { addChain, detachChain, readChain, writeChain } from "../06-descriptor-chains/reference.ts";
export {
  availableCount,
  availHead,
  placeAvailEntry,
  publishAvail,
} from "../07-available-ring/reference.ts";
export {
  disableNotifications,
  enableNotifications,
  needsKick,
  queueNotifyTarget,
  vringNeedEvent,
} from "../08-notifications/reference.ts";
export { walkChain } from "../09-device-pop/reference.ts";
export { getBuf, moreUsed, pushUsed } from "../10-used-ring/reference.ts";
export {
  acknowledgeInterrupt,
  drainUsed,
  handleInterrupt,
  raiseInterrupt,
} from "../11-interrupts/reference.ts";
export {
  addBuffers,
  addIndirectChain,
  readIndirectTable,
} from "../12-indirect-descriptors/reference.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
  updateAvailEvent,
  updateUsedEvent,
} from "../13-event-idx/reference.ts";
export {
  checkConfigAccess,
  configChanged,
  readConfig64,
  readConfigConsistent,
} from "../14-config-space/reference.ts";
export {
  consoleConfigSpace,
  emergencyWriteByte,
  fillReceiveChain,
  postReceiveBuffers,
  postTransmitBuffer,
  readConsoleSize,
  receivedBytes,
  takeTransmitChain,
  transmitChunks,
} from "../15-console/reference.ts";
export {
  buildBlockRequest,
  completeBlockRequest,
  finishBlockRequest,
  parseBlockRequest,
} from "../16-blk-requests/reference.ts";
export {
  blockConfigSpace,
  blockTransferLimits,
  executeBlockRequest,
  readBlockConfig,
  splitTransfer,
} from "../17-blk-limits/reference.ts";
export { bindDriver, initializeDevice } from "../../transport/driver_core.ts";
