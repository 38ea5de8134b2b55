// Typed errors of serial ports. The CLI turns them into hints (dialout
// group, stop Klipper, which process holds the port).

import { CanflashError } from "../util/errors.js";
import type { PortHolder } from "./port-holders.js";

export class PortInUseError extends CanflashError {
  constructor(
    readonly path: string,
    readonly holders: readonly PortHolder[],
  ) {
    super(
      "PORT_IN_USE",
      `${path} is in use` +
        (holders.length
          ? ` by ${holders.map((h) => `${h.command} (PID ${h.pid})`).join(", ")}`
          : " (locked by another process)"),
    );
  }
}

export class PortNotFoundError extends CanflashError {
  constructor(readonly path: string) {
    super("PORT_NOT_FOUND", `no serial device at ${path}`);
  }
}

export class PortPermissionError extends CanflashError {
  constructor(
    readonly path: string,
    cause?: unknown,
  ) {
    super("PORT_PERMISSION_DENIED", `no permission to open ${path}`, { cause });
  }
}

export class SerialAddonMissingError extends CanflashError {
  constructor(cause: unknown) {
    super("SERIAL_ADDON_MISSING", "the serialport native addon could not be loaded", { cause });
  }
}

export class SerialIoError extends CanflashError {
  constructor(
    readonly path: string,
    readonly operation: string,
    cause?: unknown,
  ) {
    super(
      "SERIAL_IO",
      `${operation} on ${path} failed${cause instanceof Error ? `: ${cause.message}` : ""}`,
      { cause },
    );
  }
}
