// Typed errors of the gs_usb backend. Each names the interface and carries
// the facts a hint words.

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    GS_USB_BAD_INTERFACE: true;
    GS_USB_NOT_FOUND: true;
    GS_USB_NOT_GS_USB: true;
    GS_USB_BITRATE: true;
    GS_USB_RX_OVERFLOW: true;
    GS_USB_KERNEL_HELD: true;
    GS_USB_FRAME_LOST: true;
    GS_USB_TX_OVERFLOW: true;
  }
}

/** The interface name does not parse ("gs_usb:[<vid>:<pid>|<serial>][,bitrate=<bit/s>]"). */
export class GsUsbInterfaceError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly problem: string,
  ) {
    super("GS_USB_BAD_INTERFACE", `${iface}: ${problem}`);
  }
}

/** No USB device matches the name. */
export class GsUsbNotFoundError extends CanflashError {
  constructor(
    readonly iface: string,
    /** What was looked for: "1d50:606f", "serial 0042", "a gs_usb adapter". */
    readonly wanted: string,
    /** The USB backend that listed the devices ("native", "socket", "in-process"). */
    readonly backend: string,
  ) {
    super(
      "GS_USB_NOT_FOUND",
      `${iface}: no USB device found (${wanted}) on the ${backend} USB backend`,
    );
  }
}

/** The device has no vendor interface with a bulk IN and a bulk OUT endpoint, or refused the gs_usb setup. */
export class GsUsbNotGsUsbError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly device: string,
    readonly problem: string,
  ) {
    super("GS_USB_NOT_GS_USB", `${iface}: ${device} ${problem}`);
  }
}

/** The controller's clock and limits (BT_CONST) cannot make the requested bitrate exactly. */
export class GsUsbBitrateError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly bitrate: number,
    readonly fclkCan: number,
  ) {
    super(
      "GS_USB_BITRATE",
      `${iface}: the adapter's CAN clock (${fclkCan} Hz) cannot make ${bitrate} bit/s`,
    );
  }
}

/** The adapter's receive queue overflowed: frames from the bus were lost before reaching the host. */
export class GsUsbRxOverflowError extends CanflashError {
  constructor(readonly iface: string) {
    super(
      "GS_USB_RX_OVERFLOW",
      `the gs_usb adapter on ${iface} lost received frames (its queue to the host overflowed)`,
    );
  }
}

/**
 * The kernel's gs_usb driver holds the adapter as a SocketCAN interface:
 * opening it from userspace would detach the driver and take that
 * interface (and Klipper's bus on it) away, so canflash refuses.
 */
export class GsUsbKernelHeldError extends CanflashError {
  constructor(
    readonly iface: string,
    /** The kernel's interface for it: "can0". */
    readonly netdev: string,
  ) {
    super(
      "GS_USB_KERNEL_HELD",
      `${iface}: the kernel's gs_usb driver holds this adapter as ${netdev}; use -i ${netdev}`,
    );
  }
}

/**
 * A frame send() had already handed to the adapter failed later: the
 * adapter did not take it within the OUT transfer's deadline (its transmit
 * queue stayed full), or its echo — the adapter's word that it left on the
 * wire — did not come in time (nothing acknowledges frames, bus-off). It is
 * reported to every reader of the bus (their next recv rejects with it).
 */
export class GsUsbFrameLostError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly frameText: string,
    /** "not-taken": the bulk OUT timed out; "no-echo": taken, but never confirmed sent. */
    readonly reason: "not-taken" | "no-echo",
    /** How long was waited, ms. */
    readonly waitedMs: number,
    readonly busState: string,
  ) {
    super(
      "GS_USB_FRAME_LOST",
      reason === "not-taken"
        ? `the gs_usb adapter on ${iface} did not take frame ${frameText} within ${waitedMs} ms (its transmit queue stayed full; bus state ${busState})`
        : `the gs_usb adapter on ${iface} did not confirm frame ${frameText} sent within ${waitedMs} ms (bus state ${busState}): it may never have reached the bus`,
    );
  }
}

/** The adapter's controller reported (error frame, TX overflow) that it dropped frames it was to send. */
export class GsUsbTxOverflowError extends CanflashError {
  constructor(readonly iface: string) {
    super(
      "GS_USB_TX_OVERFLOW",
      `the gs_usb adapter on ${iface} dropped frames it was to send (its controller's transmit queue overflowed)`,
    );
  }
}
