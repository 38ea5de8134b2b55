// The device side of the seam: what a USB device model (src/sim/usb/)
// implements so that the in-process backend, the socket server and through
// it the stand-in libusb of the real host tools all reach the same model.
// A model answers requests in the socket format's terms (wire.ts) and can be
// unplugged and plugged in again with other descriptors (re-enumeration).

import type { UsbReply, UsbRequest } from "./wire.js";

export interface UsbModelPlug {
  /** Changes on every attach; undefined while unplugged. A handle opened on another generation is gone. */
  generation: number | undefined;
}

export interface UsbDeviceModel extends UsbModelPlug {
  /** Stable name ("dfuse-f4"); the in-process backend's device id. */
  readonly name: string;
  /** Bus/port path reported to hosts ("1-1.4"). */
  readonly portPath: string;
  /** One request; never throws for a device-side refusal (that is a negative status). */
  handle(request: UsbRequest): Promise<UsbReply>;
  /** Called with the new generation (or undefined) whenever the device is plugged or unplugged. */
  onPlug(listener: (generation: number | undefined) => void): () => void;
}
