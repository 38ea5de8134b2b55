// The STM32 HID bootloader's typed errors.

import { CanflashError } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    HID_BOOTLOADER_TOO_OLD: true;
    HID_BOOTLOADER_NO_ACK: true;
    HID_BOOTLOADER_WRITE_FAILED: true;
    HID_BOOTLOADER_GONE: true;
    HID_BOOTLOADER_DID_NOT_REBOOT: true;
  }
}

const hex = (a: number) => `0x${a.toString(16)}`;

/** bcdDevice below 3.00: the old protocol hid-flash refuses too. */
export class HidBootloaderTooOldError extends CanflashError {
  constructor(
    readonly device: string,
    readonly bcdDevice: number,
  ) {
    super(
      "HID_BOOTLOADER_TOO_OLD",
      `${device} runs HID bootloader version ${(bcdDevice >> 8).toString(16)}.${(bcdDevice & 0xff).toString(16).padStart(2, "0")}: 3.00 or newer is needed`,
    );
  }
}

/** No ack for a KiB within the deadline. */
export class HidBootloaderNoAckError extends CanflashError {
  constructor(
    readonly address: number,
    readonly timeoutMs: number,
    readonly bytesAcked: number,
  ) {
    super(
      "HID_BOOTLOADER_NO_ACK",
      `the HID bootloader did not ack the KiB at ${hex(address)} within ${timeoutMs} ms (${bytesAcked} bytes taken before it)`,
    );
  }
}

/** A report was not taken after every retry. */
export class HidBootloaderWriteError extends CanflashError {
  constructor(
    readonly address: number,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(
      "HID_BOOTLOADER_WRITE_FAILED",
      `the HID bootloader did not take the report at ${hex(address)} after ${attempts} attempts: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
  }
}

/** The device left the bus mid-write. */
export class HidBootloaderGoneError extends CanflashError {
  constructor(
    readonly address: number,
    readonly bytesAcked: number,
  ) {
    super(
      "HID_BOOTLOADER_GONE",
      `the board left the HID bootloader while writing at ${hex(address)} (${bytesAcked} bytes taken): its flash holds a partial image`,
    );
  }
}

/** The bootloader was still on the bus after REBOOT. */
export class HidBootloaderDidNotRebootError extends CanflashError {
  constructor(
    readonly device: string,
    readonly waitedMs: number,
  ) {
    super(
      "HID_BOOTLOADER_DID_NOT_REBOOT",
      `${device} was still the HID bootloader ${waitedMs} ms after REBOOT: the new firmware did not start`,
    );
  }
}
