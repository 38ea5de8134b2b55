// The USB seam (see device.ts).
export * from "./device.js";
export * from "./descriptors.js";
export * from "./errors.js";
export type { UsbDeviceModel } from "./model.js";
export type { UsbReply, UsbRequest } from "./wire.js";
export { InProcessUsbBackend } from "./in-process.js";
export { SocketUsbBackend, USB_SOCKETS_ENV, socketPaths, socketPortPath } from "./socket.js";
export { NativeUsbBackend, USB_ADDON } from "./native.js";
export {
  usbBackend,
  usbBackendName,
  registerInProcessUsbModels,
  USB_BACKEND_ENV,
  USB_BACKENDS,
  type UsbBackendName,
} from "./backends.js";
export { waitForDevice, describeSelector, DEVICE_POLL_MS } from "./wait.js";
