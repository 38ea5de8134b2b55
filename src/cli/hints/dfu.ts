// Hints for USB DFU and ST DfuSe (dfu-util's job) and .dfu files.

import { ExitCode } from "../exit-codes.js";
import { list, num, retryLine, str, type HintTable } from "./types.js";

export const dfuHints = {
  DFU_STATUS: (e, ctx) => {
    const status = num(e, "status");
    const causes =
      status === 0x08 || status === 0x01
        ? ["the address is outside the chip's flash, or in a protected area (read-out protection)"]
        : status === 0x0b
          ? [
              "read-out protection is on: the ROM refuses reads and writes until it is removed (that erases the chip)",
            ]
          : status === 0x07 || status === 0x06
            ? ["a page was written without being erased, or the flash is worn"]
            : ["the bootloader refused the step; canflash cleared the error (CLRSTATUS)"];
    return { exitCode: ExitCode.FAILURE, causes, next: retryLine(ctx) };
  },
  DFU_NO_INTERFACE: (e) => ({
    exitCode: ExitCode.USAGE,
    causes:
      list(e, "alts").length === 0
        ? ["the device runs its application (a DFU runtime interface only) or is not a DFU device"]
        : [
            "the row expects another alt setting than this bootloader offers (another chip or bootloader build)",
          ],
    next: ["canflash doctor   (what the USB device is)", "canflash targets   (the DFU rows)"],
  }),
  DFU_LAYOUT: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      str(e, "reason") ?? "the image does not fit",
      "the image is linked for another chip or another start address",
    ],
    next: ["rebuild Klipper for this chip (make menuconfig: the flash start / bootloader offset)"],
  }),
  DFU_NO_REENUMERATION: () => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      "the board's application does not enter DFU mode on DETACH",
      "the board needs its BOOT0 button (hold it while pressing reset) to start the ROM bootloader",
    ],
    next: ["put it in DFU mode by hand, then run the same command again", "canflash doctor"],
  }),
  DFU_STUCK: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the bootloader hung while erasing or writing"],
    next: ["power-cycle the board into its bootloader", ...retryLine(ctx)],
  }),
  DFU_SUFFIX: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes:
      str(e, "problem") === "crc"
        ? ["the file was damaged or cut short (download it again, or rebuild it)"]
        : ["the .dfu file was made for another board"],
    next: [
      "pass the raw out/klipper.bin, or a .dfu made for this board (dfu-suffix -v VID -p PID -a file)",
    ],
  }),
} satisfies HintTable;
