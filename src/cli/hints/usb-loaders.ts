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
} satisfies HintTable;
