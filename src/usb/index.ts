// The USB seam (see device.ts).
export * from "./device.js";
export * from "./descriptors.js";
export * from "./errors.js";
export type { UsbDeviceModel } from "./model.js";
export type { UsbReply, UsbRequest } from "./wire.js";
export { InProcessUsbBackend } from "./in-process.js";
