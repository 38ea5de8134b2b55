// Typed errors of the CAN layer. Each carries the interface name and the
// facts the CLI needs to explain what to do; no hint text lives here.

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    CAN_BUS_CLOSED: true;
    CAN_BUS_STOPPED: true;
    CAN_INTERFACE_DOWN: true;
    CAN_KERNEL_UNSUPPORTED: true;
    CAN_NOT_CAN_INTERFACE: true;
    CAN_NOT_LINUX: true;
    CAN_NO_SUCH_INTERFACE: true;
    CAN_OPEN_FAILED: true;
    CAN_PERMISSION_DENIED: true;
    CAN_RECEIVE_OVERFLOW: true;
    CAN_SEND_TIMEOUT: true;
  }
}

export class CanBusClosedError extends CanflashError {
  constructor(readonly channel: string) {
    super("CAN_BUS_CLOSED", `CAN bus ${channel} is closed`);
  }
}

/** SocketCAN exists only on Linux. */
export class NotLinuxError extends CanflashError {
  constructor(readonly platform: string) {
    super("CAN_NOT_LINUX", `SocketCAN needs Linux; this system is ${platform}`);
  }
}

/** The optional `socketcan` native addon is not installed or did not build. */
export class NoSuchInterfaceError extends CanflashError {
  constructor(
    readonly iface: string,
    /** CAN interfaces that do exist, for the message and the hint. */
    readonly available: readonly string[],
    /** Userspace CAN adapters no kernel driver holds ("gs_usb:<serial>"), where the caller looked. */
    readonly userspace: readonly string[] = [],
  ) {
    super(
      "CAN_NO_SUCH_INTERFACE",
      `no network interface named ${iface}` +
        (available.length
          ? ` (CAN interfaces here: ${available.join(", ")})`
          : " (no CAN interfaces found)") +
        (userspace.length
          ? `; gs_usb adapters without a kernel driver: ${userspace.join(", ")}`
          : ""),
    );
  }
}

export class NotCanInterfaceError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly linkType: number,
  ) {
    super(
      "CAN_NOT_CAN_INTERFACE",
      `${iface} is not a CAN interface (link type ${linkType}, CAN is 280)`,
    );
  }
}

export class InterfaceDownError extends CanflashError {
  constructor(readonly iface: string) {
    super("CAN_INTERFACE_DOWN", `CAN interface ${iface} is down`);
  }
}

export class CanPermissionError extends CanflashError {
  constructor(
    readonly iface: string,
    cause?: unknown,
  ) {
    super("CAN_PERMISSION_DENIED", `permission denied opening a CAN socket on ${iface}`, { cause });
  }
}

/** The kernel has no CAN_RAW support (module missing, or a kernel without CAN). */
export class KernelCanUnsupportedError extends CanflashError {
  constructor(readonly iface: string) {
    super(
      "CAN_KERNEL_UNSUPPORTED",
      `this kernel cannot open CAN_RAW sockets (needed for ${iface})`,
    );
  }
}

export class CanOpenError extends CanflashError {
  constructor(
    readonly iface: string,
    cause?: unknown,
  ) {
    super("CAN_OPEN_FAILED", `could not open a CAN socket on ${iface}`, { cause });
  }
}

/**
 * The interface kept refusing a frame (transmit queue full, ENOBUFS) past the
 * send deadline: nothing acknowledges frames on the bus, or it is bus-off.
 */
export class CanSendTimeoutError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly timeoutMs: number,
    readonly frameText: string,
    readonly busState: string,
  ) {
    super(
      "CAN_SEND_TIMEOUT",
      `${iface} did not accept frame ${frameText} for ${timeoutMs} ms (transmit queue full; bus state ${busState})`,
    );
  }
}

/** The socket stopped (interface went down or disappeared) while in use. */
export class CanBusStoppedError extends CanflashError {
  constructor(
    readonly iface: string,
    cause?: unknown,
  ) {
    super("CAN_BUS_STOPPED", `CAN interface ${iface} stopped while in use`, { cause });
  }
}

/** A reader fell too far behind and received frames were discarded. */
export class CanReceiveOverflowError extends CanflashError {
  constructor(
    readonly channel: string,
    readonly lost: number,
  ) {
    super(
      "CAN_RECEIVE_OVERFLOW",
      `${lost} received frames on ${channel} were discarded: the reader fell behind`,
    );
  }
}
