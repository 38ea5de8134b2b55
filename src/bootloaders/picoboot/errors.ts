// PICOBOOT's typed errors.

import { CanflashError } from "../../util/errors.js";
import { cmdName, statusName } from "./codec.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    PICOBOOT_COMMAND_FAILED: true;
    PICOBOOT_GONE: true;
    PICOBOOT_NO_INTERFACE: true;
    PICOBOOT_IMAGE_LAYOUT: true;
    PICOBOOT_NO_BOOTLOADER_BELOW: true;
    PICOBOOT_DID_NOT_REBOOT: true;
  }
}

const hex = (a: number) => `0x${a.toString(16)}`;

/** The boot ROM refused a command (stalled); its status says why. */
export class PicobootCommandError extends CanflashError {
  constructor(
    readonly command: number,
    /** dStatusCode; undefined when the status could not be read. */
    readonly status: number | undefined,
    readonly address: number | undefined,
    cause?: unknown,
  ) {
    super(
      "PICOBOOT_COMMAND_FAILED",
      `PICOBOOT ${cmdName(command)}${address !== undefined ? ` at ${hex(address)}` : ""} failed: ${status !== undefined ? statusName(status) : `no status (${(cause as Error)?.message ?? String(cause)})`}`,
      cause !== undefined ? { cause } : undefined,
    );
  }
}

/** The device left the bus mid-operation. */
export class PicobootGoneError extends CanflashError {
  constructor(
    readonly command: number,
    readonly address: number | undefined,
    /** Sectors erased or pages written before it went. */
    readonly changed: boolean,
  ) {
    super(
      "PICOBOOT_GONE",
      `the RP2040 left BOOTSEL mode during ${cmdName(command)}${address !== undefined ? ` at ${hex(address)}` : ""}${changed ? ": its flash holds a partial image" : ""}`,
    );
  }
}

/** 2e8a:0003 without a PICOBOOT interface (vendor class, two bulk endpoints). */
export class PicobootNoInterfaceError extends CanflashError {
  constructor(readonly device: string) {
    super(
      "PICOBOOT_NO_INTERFACE",
      `${device} has no PICOBOOT interface (its BOOTSEL mode may have it disabled)`,
    );
  }
}

/** The image is not laid out for where this row writes it (Katapult offset or not). */
export class PicobootImageLayoutError extends CanflashError {
  constructor(
    /** Where the row writes: 0x10000000 without Katapult, 0x10004000 with. */
    readonly start: number,
    /** What the image looks like. */
    readonly found: "katapult-offset" | "no-bootloader" | "no-vector-table" | "starts-elsewhere",
    readonly imageStart: number,
  ) {
    const what = {
      "katapult-offset": "an image linked for a bootloader offset (no boot2 at its start)",
      "no-bootloader": "an image with its own boot2, linked for 0x10000000 (no bootloader)",
      "no-vector-table": "no vector table linked for this address",
      "starts-elsewhere": `an image that starts at ${hex(imageStart)}`,
    }[found];
    super(
      "PICOBOOT_IMAGE_LAYOUT",
      `this target writes the image at ${hex(start)}${start === 0x1000_0000 ? " (no bootloader)" : " (above Katapult)"}, but the file is ${what}`,
    );
  }
}

/** Writing above Katapult's 16 KiB, but no boot2 is at the flash start: the board would not boot. */
export class PicobootNoBootloaderBelowError extends CanflashError {
  constructor(readonly start: number) {
    super(
      "PICOBOOT_NO_BOOTLOADER_BELOW",
      `nothing bootable is at 0x10000000 below ${hex(start)} (no boot2): Katapult is not installed`,
    );
  }
}

export class PicobootDidNotRebootError extends CanflashError {
  constructor(
    readonly device: string,
    readonly waitedMs: number,
  ) {
    super(
      "PICOBOOT_DID_NOT_REBOOT",
      `${device} was still in BOOTSEL mode ${waitedMs} ms after REBOOT: the new firmware did not start`,
    );
  }
}
