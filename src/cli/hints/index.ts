// Error → explanation for people: what happened, the likely causes, and the
// next command to run. The library's errors carry facts; wording lives here,
// in one table keyed by every error code of the library (split by domain):
// a code without a hint does not compile.

import { FlashError } from "../../flasher/errors.js";
import { CanflashError, type ErrorCode } from "../../util/errors.js";
import { ExitCode } from "../exit-codes.js";
import { avrHints } from "./avr.js";
import { canHints } from "./can.js";
import { fileCopyHints } from "./file-copy.js";
import { flasherHints } from "./flasher.js";
import { imageHints } from "./image.js";
import { katapultHints } from "./katapult.js";
import { samBaHints } from "./sam-ba.js";
import { klipperHints } from "./klipper.js";
import { moonrakerHints } from "./moonraker.js";
import { serialHints } from "./serial.js";
import { stm32Hints } from "./stm32.js";
import { usbHints } from "./usb.js";
import { usbLoaderHints } from "./usb-loaders.js";
import { dfuHints } from "./dfu.js";
import { openocdHints } from "./openocd.js";
import { sdcardSpiHints } from "./sdcard-spi.js";
import type { ErrorFacts, Explained, HintContext, HintFn } from "./types.js";

export type { Explained, HintContext } from "./types.js";

const HINTS: Readonly<Record<ErrorCode, HintFn>> = {
  ...canHints,
  ...katapultHints,
  ...avrHints,
  ...samBaHints,
  ...klipperHints,
  ...serialHints,
  ...stm32Hints,
  ...usbHints,
  ...usbLoaderHints,
  ...dfuHints,
  ...imageHints,
  ...flasherHints,
  ...moonrakerHints,
  ...fileCopyHints,
  ...openocdHints,
  ...sdcardSpiHints,
};

/** What a failed flash left the board in, in words. */
function stateText(e: FlashError): string {
  // SWD has no bootloader to stay in: the chip is held halted by the debugger.
  if (e.deviceState === "in-bootloader" && e.protocol === "openocd-swd")
    return "The chip was left halted, not reset into what was written: flash it again before resetting or power-cycling it (a reset would start the partial image).";
  // Klipper's flash-sdcard writes the card while Klipper runs; only the final reset changes the board.
  if (e.protocol === "sdcard-spi" && e.phase !== "finish")
    return "The board was not reset: it still runs the firmware it had.";
  if (e.deviceState === "in-bootloader")
    return e.bootloaderStartsApplication
      ? "canflash did not end programming mode, but this bootloader starts the application by itself after about a second of silence: the board may now run a partial image. Flash again: opening the port resets it back into the bootloader."
      : "The board stays in its bootloader and will not start the partially written firmware.";
  if (e.deviceState === "untouched")
    return e.returnedToApplication
      ? "Nothing was written: canflash sent the board back to the application it ran before."
      : "Nothing was written to the board.";
  // A file copy reads nothing back: what is unknown is whether the bootloader took the file.
  if (e.cause instanceof CanflashError && e.cause.code === "DRIVE_STAYED")
    return "The file is on the drive, but the bootloader has not taken it: the board still waits in its bootloader.";
  return "The firmware was verified, but starting it did not confirm; power-cycle the board if it does not come up.";
}

/** Explains any error thrown by a command. */
export function explain(error: unknown, ctx: HintContext): Explained {
  if (error instanceof FlashError) {
    const inner = explain(error.cause, ctx);
    return {
      ...inner,
      message:
        inner.exitCode === ExitCode.INTERRUPTED
          ? `interrupted (${error.phase})`
          : `${error.phase} failed: ${inner.message}`,
      // The state says whether anything was written; the inner "nothing was written" would repeat it.
      causes: [
        stateText(error),
        ...inner.causes.filter((c) => !/^nothing was (written|sent)$/i.test(c)),
      ],
      next: inner.next.length ? inner.next : ctx.retry ? [`retry: ${ctx.retry}`] : [],
    };
  }
  if (!(error instanceof CanflashError)) {
    return {
      exitCode: ExitCode.FAILURE,
      message: error instanceof Error ? error.message : String(error),
      causes: [],
      next: [],
    };
  }
  const h = HINTS[error.code](error as ErrorFacts, ctx);
  return {
    exitCode: h.exitCode,
    message: (h.message ?? error.message) + (error.origin ? ` (from ${error.origin})` : ""),
    causes: error.nothingSent
      ? [
          "Nothing was sent to the board.",
          ...(h.causes ?? []).filter((c) => !/^nothing was (written|sent)/i.test(c)),
        ]
      : (h.causes ?? []),
    next: h.next ?? [],
  };
}

/** The library error code of an error (a failed flash: its cause's), for --json. */
export function errorCode(error: unknown): string {
  if (error instanceof FlashError) return error.causeCode;
  return error instanceof CanflashError ? error.code : "ERROR";
}
