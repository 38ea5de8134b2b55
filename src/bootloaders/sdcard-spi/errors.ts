// Typed failures of flashing through a running Klipper's SPI SD slot
// (Klipper's flash-sdcard). Facts as fields; the CLI's hints say what to do.

import { CanflashError } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    SDSPI_NO_CARD: true;
    SDSPI_CARD: true;
    SDSPI_NOT_KLIPPER: true;
    SDSPI_NO_SPI: true;
    SDSPI_UNKNOWN_NAME: true;
    SDSPI_CONVERSION: true;
    SDSPI_NOT_CONFIRMED: true;
    SDSPI_NO_RECONNECT: true;
    SDSPI_MCU_SHUTDOWN: true;
  }
}

/** Nothing answered CMD0 on the row's bus and chip select: no card, or not this board's wiring. */
export class SdNoCardError extends CanflashError {
  constructor(
    readonly target: string,
    /** "spi1", or "software SPI PC8,PD2,PC12" (MISO, MOSI, SCK). */
    readonly bus: string,
    readonly csPin: string,
  ) {
    super(
      "SDSPI_NO_CARD",
      `no SD card answered on ${bus} with chip select ${csPin} (the ${target} row's wiring)`,
    );
  }
}

/** The card answered, but refused or failed a step. */
export class SdCardError extends CanflashError {
  constructor(
    /** "CMD17 sector 2048", "ACMD41". */
    readonly step: string,
    /** What went wrong: "R1 0x04 (illegal command)", "no start token within 100 ms". */
    readonly detail: string,
    readonly reason: "refused" | "timeout" | "crc" | "write" | "unsupported",
  ) {
    super("SDSPI_CARD", `SD card: ${step}: ${detail}`);
  }
}

/** The firmware on the port is not a running Klipper (or could not be identified). */
export class NotKlipperError extends CanflashError {
  constructor(
    readonly device: string,
    readonly app: string | undefined,
    cause?: unknown,
  ) {
    super(
      "SDSPI_NOT_KLIPPER",
      app
        ? `${device} runs ${app}, not Klipper: flash-sdcard needs the running Klipper firmware`
        : `${device}: no Klipper firmware answered identify`,
      { cause },
    );
  }
}

/** The running Klipper build lacks the SPI commands (or the software-SPI ones) the row needs. */
export class NoSpiError extends CanflashError {
  constructor(
    readonly device: string,
    readonly missing: string,
  ) {
    super("SDSPI_NO_SPI", `the Klipper build on ${device} has no ${missing} command`);
  }
}

/** A bus or pin name of the row that the build's dictionary does not enumerate. */
export class UnknownNameError extends CanflashError {
  constructor(
    readonly target: string,
    readonly kind: "spi_bus" | "pin",
    readonly value: string,
    readonly known: readonly string[],
  ) {
    super(
      "SDSPI_UNKNOWN_NAME",
      `the ${target} row's ${kind} ${value} is not in the running build's dictionary`,
    );
  }
}

/** The board needs a vendor conversion of klipper.bin that canflash does not implement. */
export class ConversionUnsupportedError extends CanflashError {
  constructor(
    readonly target: string,
    readonly script: string,
  ) {
    super(
      "SDSPI_CONVERSION",
      `the ${target} bootloader takes only an image converted by Klipper's ${script}, which canflash does not implement`,
    );
  }
}

/** After the reset the board shows no sign of having flashed the file. */
export class NotConfirmedError extends CanflashError {
  constructor(
    readonly device: string,
    readonly fileName: string,
    readonly reason: "file-left" | "current-differs" | "unchanged" | "dictionary-differs",
  ) {
    super(
      "SDSPI_NOT_CONFIRMED",
      reason === "file-left"
        ? `${device}: the bootloader left ${fileName} on the card: it did not flash it`
        : reason === "dictionary-differs"
          ? `${device}: the board came back with a data dictionary other than the given klipper.dict`
          : reason === "current-differs"
            ? `${device}: the card's current firmware file is not the image written`
            : `${device}: the board runs the same build as before and nothing on the card proves the update`,
    );
  }
}

/** The board did not come back as Klipper after the reset. */
export class NoReconnectError extends CanflashError {
  constructor(
    readonly device: string,
    readonly timeoutMs: number,
  ) {
    super(
      "SDSPI_NO_RECONNECT",
      `${device}: Klipper did not answer within ${timeoutMs} ms of the reset`,
    );
  }
}

/** The MCU stayed shut down or configured after a reset, or shut down on the SPI config. */
export class McuShutdownError extends CanflashError {
  constructor(
    readonly device: string,
    readonly state: "configured" | "shutdown" | "config-refused",
  ) {
    super(
      "SDSPI_MCU_SHUTDOWN",
      state === "config-refused"
        ? `${device}: Klipper shut down on the SD card's SPI config (a pin or bus this build cannot use)`
        : `${device}: the MCU is still ${state} after a reset`,
    );
  }
}
