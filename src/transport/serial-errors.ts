// Typed errors of serial ports. The CLI turns them into hints (dialout
// group, stop Klipper, which process holds the port).

import { CanflashError } from "../util/errors.js";
import type { PortHolder } from "./port-holders.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    PORT_IN_USE: true;
    PORT_NOT_FOUND: true;
    PORT_NOT_A_TTY: true;
    PORT_PERMISSION_DENIED: true;
    SERIAL_IO: true;
  }
}

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

/** The path exists but is no serial port (a directory, a file, /dev/null). */
export class NotATtyError extends CanflashError {
  constructor(
    readonly path: string,
    readonly kind: "directory" | "file" | "device",
  ) {
    super(
      "PORT_NOT_A_TTY",
      `${path} is ${kind === "directory" ? "a directory" : kind === "file" ? "a file" : "a device that is no terminal"}, not a serial port`,
    );
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
