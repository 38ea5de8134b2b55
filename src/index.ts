// canflash as a library: buses, transports, protocols, the flasher core,
// images, targets and the simulated devices. The CLI (canflash) is built on
// exactly these.
export * from "./can/index.js";
export * from "./util/errors.js";
export { realClock, VirtualClock, delay, type Clock } from "./util/clock.js";
export { setRootLogger } from "./util/log.js";
export * from "./klippy-bridge/uuid.js";
export * from "./klippy-bridge/admin.js";
export { detectKlipper, findKlippyProcesses, type KlipperStatus } from "./klippy-bridge/klippy.js";
export * from "./transport/byte-transport.js";
export { CanNodeStream } from "./transport/can-node-stream.js";
export { openSerial, SerialTransport } from "./transport/serial.js";
export * from "./transport/serial-errors.js";
export {
  UsbTree,
  isKatapultUsb,
  isKlipperUsb,
  isKlipperBridge,
  USB_IDS,
} from "./transport/usb-tree.js";
export { MockTransport } from "./transport/mock.js";
export * from "./flash-api/adapter.js";
export * from "./flash-api/geometry.js";
export * from "./flash-api/progress.js";
export * from "./flash-api/errors.js";
export * as katapult from "./canboot/codec.js";
export * from "./canboot/errors.js";
export { KatapultSession, DEFAULT_TIMEOUTS, type SessionTimeouts } from "./canboot/session.js";
export { KatapultAdapter } from "./canboot/adapter.js";
export { katapultCanAdapter } from "./canboot/can.js";
export { KatapultCanGate } from "./canboot/can-gate.js";
export {
  queryNodes,
  waitForKatapult,
  requestBootloader,
  clearKatapultNodeIds,
  NodeNotFoundError,
  BootloaderEntryTimeoutError,
} from "./canboot/can-admin.js";
export { katapultSerialAdapter, touch1200, sendSerialBootloaderRequest } from "./canboot/serial.js";
export {
  katapultBridgeAdapter,
  katapultAdapterForCanNode,
  findBridgeFor,
} from "./canboot/bridge.js";
export {
  runFlash,
  type FlashOptions,
  type FlashResult,
  type FlashImage,
} from "./flasher/execute.js";
export {
  planFlash,
  EmptyPlanError,
  ImageBelowStartError,
  ImageDoesNotFitError,
  BadGeometryError,
} from "./flasher/plan.js";
export * from "./flasher/errors.js";
export { runBatch, type BatchJob, type BatchOutcome } from "./flasher/batch.js";
export * from "./flasher/targets.js";
export * from "./flasher/image/index.js";
export { SimCanDevice } from "./sim/device.js";
export { SimSerialDevice } from "./sim/serial-device.js";
export { startDemoSim } from "./sim/demo.js";
export {
  scanCanBus,
  katapultConnectInfo,
  type ScannedNode,
  type ScanResult,
} from "./flasher/scan.js";
export * from "./flasher/preflight.js";
export { avrAdapterFor, isAvrTarget } from "./flasher/avr.js";
export * from "./klippy-bridge/dictionary.js";
export { identify, identifyCanNode, getCanbusId, IdentifyError } from "./klippy-bridge/identify.js";
export { findAssignedKlipperNodes } from "./klippy-bridge/assigned.js";
export { KlipperLink } from "./klippy-bridge/mcu-link.js";
export * from "./klippy-bridge/printer-cfg.js";
export { nodeConfigFs, defaultPrinterConfigPaths } from "./klippy-bridge/printer-cfg-fs.js";
export * from "./klippy-bridge/mcu-inventory.js";
export {
  stopKlipper,
  startKlipper,
  printState,
  KlipperControlError,
} from "./klippy-bridge/klipper-service.js";
export * from "./bootloaders/avr/parts.js";
export * from "./bootloaders/avr/errors.js";
export { Stk500v1Adapter } from "./bootloaders/stk500v1/adapter.js";
export { Stk500v2Adapter } from "./bootloaders/stk500v2/adapter.js";
export * as stk500v1 from "./bootloaders/stk500v1/codec.js";
export * as stk500v2 from "./bootloaders/stk500v2/codec.js";
