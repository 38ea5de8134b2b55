// USB errors: what the seam's backends throw. Statuses follow libusb's
// error numbers (the socket format carries them as-is).

import { CanflashError } from "../util/errors.js";
import { formatUsbId } from "./device.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    USB_STALL: true;
    USB_TIMEOUT: true;
    USB_NO_DEVICE: true;
    USB_IO: true;
    USB_ACCESS: true;
    USB_BACKEND_MISSING: true;
    USB_DEVICE_NOT_FOUND: true;
  }
}

/** libusb's error numbers (libusb.h), as the socket format and the stand-in library use them. */
export const UsbStatus = {
  IO: -1,
  INVALID_PARAM: -2,
  ACCESS: -3,
  NO_DEVICE: -4,
  NOT_FOUND: -5,
  BUSY: -6,
  TIMEOUT: -7,
  OVERFLOW: -8,
  PIPE: -9,
} as const;

/** A transfer failed: the device stalled (DFU's way of refusing), timed out, went away, or I/O failed. */
export class UsbTransferError extends CanflashError {
  constructor(
    code: "USB_STALL" | "USB_TIMEOUT" | "USB_NO_DEVICE" | "USB_IO",
    /** "control IN 0xa1/3", "bulk OUT 0x01", "claim interface 0". */
    readonly operation: string,
    /** The libusb-style status. */
    readonly status: number,
    readonly device: string,
  ) {
    const what = {
      USB_STALL: "the device stalled the request",
      USB_TIMEOUT: "no answer in time",
      USB_NO_DEVICE: "the device is gone (unplugged or re-enumerated)",
      USB_IO: `I/O error (status ${status})`,
    }[code];
    super(code, `USB ${device}: ${operation}: ${what}`);
  }
}

/** Maps a negative status to its error. */
export function transferError(status: number, operation: string, device: string): UsbTransferError {
  const code =
    status === UsbStatus.PIPE
      ? "USB_STALL"
      : status === UsbStatus.TIMEOUT
        ? "USB_TIMEOUT"
        : status === UsbStatus.NO_DEVICE
          ? "USB_NO_DEVICE"
          : "USB_IO";
  return new UsbTransferError(code, operation, status, device);
}

/** The OS refused to open the device (no udev rule for a non-root user). */
export class UsbAccessError extends CanflashError {
  constructor(
    readonly vendorId: number,
    readonly productId: number,
    /** The device node that was refused, e.g. /dev/bus/usb/001/004. */
    readonly path: string | undefined,
  ) {
    super(
      "USB_ACCESS",
      `permission denied opening USB device ${formatUsbId(vendorId, productId)}${path ? ` (${path})` : ""}`,
    );
  }
}

/** The backend's package or socket list is not available. */
export class UsbBackendMissingError extends CanflashError {
  constructor(
    readonly backend: string,
    /** The npm package that provides it, when it is one. */
    readonly pkg: string | undefined,
    readonly reason: string,
  ) {
    super("USB_BACKEND_MISSING", `USB backend ${backend} is not available: ${reason}`);
  }
}

/** No device matched (within the deadline, where one was waited for). */
export class UsbDeviceNotFoundError extends CanflashError {
  constructor(
    /** What was looked for: "0483:df11", "1eaf:0003 serial 123". */
    readonly wanted: string,
    /** What the backend listed instead, "vid:pid product" each. */
    readonly seen: string[],
    readonly waitedMs: number,
  ) {
    super(
      "USB_DEVICE_NOT_FOUND",
      `no USB device ${wanted}${waitedMs ? ` appeared within ${waitedMs} ms` : " is connected"}`,
    );
  }
}
