// canflash library entry point.
export * from "./can/index.js";
export * from "./util/errors.js";
export { realClock, VirtualClock, delay, type Clock } from "./util/clock.js";
export { setRootLogger } from "./util/log.js";
