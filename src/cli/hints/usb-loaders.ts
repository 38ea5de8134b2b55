// Hints for the USB bootloaders written on the USB seam besides DFU:
// HalfKay (Teensy), the STM32 HID bootloader, RP2040 PICOBOOT.

import { ExitCode } from "../exit-codes.js";
import { num, retryLine, type HintTable } from "./types.js";

export const usbLoaderHints = {
  HALFKAY_WRITE_FAILED: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      num(e, "blocksWritten")
        ? "HalfKay stopped taking blocks: the flash holds a partial image (HalfKay erased it on the first block)"
        : "HalfKay did not take the first block (the erase of the whole application did not finish)",
      "a hub or cable problem",
    ],
    next: ["press the program button on the Teensy again", ...retryLine(ctx)],
  }),
  HALFKAY_GONE: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the Teensy was unplugged or reset in the middle of the write",
      ...(num(e, "blocksWritten")
        ? ["its flash holds a partial image: it must not be left running that"]
        : []),
    ],
    next: ["press the program button on the Teensy", ...retryLine(ctx)],
  }),
  HALFKAY_DID_NOT_BOOT: () => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "HalfKay ignored the boot request (every block was taken; nothing could be read back to check it)",
    ],
    next: ["press the Teensy's reset or replug it to start the new program"],
  }),
  HID_BOOTLOADER_TOO_OLD: () => ({
    exitCode: ExitCode.REFUSED,
    causes: ["the board runs a HID bootloader older than 3.00, whose protocol differs"],
    next: [
      "install a current STM32 HID bootloader (Klipper's fork) with an SWD probe or the ROM serial bootloader",
    ],
  }),
  HID_BOOTLOADER_NO_ACK: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      num(e, "bytesAcked")
        ? "the bootloader stopped acking: the flash holds a partial image, and a reset would start it"
        : "the bootloader took no KiB: it may be another HID device with the same id",
    ],
    next: ["keep the board in its bootloader (BOOT1 high) and flash again", ...retryLine(ctx)],
  }),
  HID_BOOTLOADER_WRITE_FAILED: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the bootloader did not take an output report (a hub or cable problem)"],
    next: ["keep the board in its bootloader (BOOT1 high) and flash again", ...retryLine(ctx)],
  }),
  HID_BOOTLOADER_GONE: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the board was unplugged or reset in the middle of the write",
      ...(num(e, "bytesAcked")
        ? ["its flash holds a partial image: the bootloader would start it on the next reset"]
        : []),
    ],
    next: ["start the board with BOOT1 high so that it stays in the bootloader", ...retryLine(ctx)],
  }),
  HID_BOOTLOADER_DID_NOT_REBOOT: () => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the bootloader ignored REBOOT (every KiB was acked; nothing could be read back to check it)",
    ],
    next: ["press reset (with BOOT1 low) to start the new firmware"],
  }),
} satisfies HintTable;
