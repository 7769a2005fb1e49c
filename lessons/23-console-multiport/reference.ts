// The reference for "Console ports": the library's own implementation, bound to the exercise's names.
export {
  deviceReadyMessage,
  handleControlMessage,
  handleDriverMessage,
} from "../../devices/console/control.ts";
