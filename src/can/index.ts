// The CAN layer: frames, the bus contract, the virtual channel, SocketCAN.
export * from "./frame.js";
export * from "./filter.js";
export * from "./bus.js";
export * from "./errors.js";
export * from "./errorframe.js";
export * from "./bittime.js";
export * from "./faults.js";
export * from "./virtual.js";
export * from "./socketcan.js";
export * from "./interfaces.js";
export * from "./backends.js";
export { liveBuses, closeAllBuses } from "./registry.js";
