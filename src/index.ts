// canflash as a library: buses, transports, protocols, the flasher core,
// images, targets and the simulated devices. The CLI (canflash) is built on
// exactly these.
export * from "./can/index.js";
export * from "./util/errors.js";
export { realClock, preciseClock, VirtualClock, delay, type Clock } from "./util/clock.js";
export { setRootLogger } from "./util/log.js";
export * from "./klippy-bridge/uuid.js";
export * from "./klippy-bridge/admin.js";
export { detectKlipper, findKlippyProcesses, type KlipperStatus } from "./klippy-bridge/klippy.js";
export * from "./transport/byte-transport.js";
export { CanNodeStream } from "./transport/can-node-stream.js";
export { openSerial, SerialTransport } from "./transport/serial.js";
export * from "./transport/serial-errors.js";
export { UsbTree, isKlipperUsb, isKlipperBridge, usbId, hasUsbId } from "./transport/usb-tree.js";
export { ExactReader } from "./transport/exact-reader.js";
export * from "./transport/modem.js";
export { MockTransport } from "./transport/mock.js";
export * from "./flash-api/adapter.js";
export * from "./flash-api/geometry.js";
export * from "./flash-api/progress.js";
export * from "./flash-api/errors.js";
export * from "./flash-api/driver.js";
export {
  driverFor,
  loadDriver,
  isSupported,
  BootloaderUnsupportedError,
} from "./bootloaders/index.js";
export * from "./entry/index.js";
export {
  queryNodes,
  requestBootloader,
  clearKatapultNodeIds,
  assignKatapultNodeId,
} from "./entry/can-admin.js";
export {
  NodeNotFoundError,
  BootloaderEntryTimeoutError,
  BOOTLOADER_ENTRY_TIMEOUT_MS,
} from "./entry/can-request.js";
export { touch1200 } from "./entry/touch.js";
export { sendSerialBootloaderRequest, SERIAL_BOOTLOADER_REQUEST } from "./entry/serial-request.js";
export { pulseReset } from "./entry/reset-pulse.js";
export { followUsbTo, UsbReenumerationError } from "./entry/follow-usb.js";
export * as katapult from "./bootloaders/katapult/codec.js";
export * from "./bootloaders/katapult/errors.js";
export {
  KatapultSession,
  DEFAULT_TIMEOUTS,
  type SessionTimeouts,
} from "./bootloaders/katapult/session.js";
export { KatapultAdapter } from "./bootloaders/katapult/adapter.js";
export { katapultCanAdapter } from "./bootloaders/katapult/can.js";
export { katapultSerialAdapter } from "./bootloaders/katapult/serial.js";
export { katapultBridgeAdapter } from "./bootloaders/katapult/bridge.js";
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
export * from "./targets/index.js";
export * from "./targets/schema.js";
export { loadMcuFlashes, loadTable, loadTargets } from "./targets/load.js";
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
export { avrAdapterFor } from "./bootloaders/avr/adapter-for.js";
export { isAvrRow } from "./bootloaders/avr/rows.js";
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
export { Stk500v1Adapter } from "./bootloaders/avr/stk500v1/adapter.js";
export { Stk500v2Adapter } from "./bootloaders/avr/stk500v2/adapter.js";
export * as stk500v1 from "./bootloaders/avr/stk500v1/codec.js";
export * as stk500v2 from "./bootloaders/avr/stk500v2/codec.js";
