// Hints for Klipper's flash-sdcard done natively: an SD card in the board's
// own slot, written through the running Klipper's SPI commands.

import { ExitCode } from "../exit-codes.js";
import { list, retryLine, str, type HintTable } from "./types.js";

export const sdcardSpiHints = {
  SDSPI_NO_CARD: (e, ctx) => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      "nothing was written and the board was not reset",
      "no SD card is in the board's slot, or it is not seated",
      `the board is not a ${str(e, "target")} (its SD slot is wired to other pins than ${str(e, "bus")} / CS ${str(e, "csPin")})`,
    ],
    next: [
      `canflash targets ${str(e, "target")} — the row's SD wiring`,
      "canflash targets | grep sdcard-spi — the other boards",
      "push the card in until it clicks, then retry",
      ...retryLine(ctx),
    ],
  }),
  SDSPI_CARD: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the board was not reset: it still runs the firmware it had",
      str(e, "reason") === "crc"
        ? "the SPI wiring is noisy at this clock: retry without the fast SD clock"
        : str(e, "reason") === "unsupported"
          ? "an old (SD v1 or MMC) card: use a 32 GB or smaller SDHC card"
          : "the card failed or refused a step: try another card (FAT32, 32 GB or smaller)",
    ],
    next: [...retryLine(ctx)],
  }),
  FAT_NOT_FAT: (_e, ctx) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      "nothing was written and the board was not reset",
      "the card is not FAT-formatted (exFAT cards over 32 GB need formatting): the bootloader reads FAT16/FAT32 only",
    ],
    next: ["format the card FAT32 (mkfs.vfat -F 32 /dev/sdX1) in a card reader", ...retryLine(ctx)],
  }),
  FAT_FULL: (e, ctx) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      "nothing was written under the firmware's name and the board was not reset",
      str(e, "what") === "root-directory"
        ? "the card's root folder is full (FAT16 holds 512 entries)"
        : "the card has no room for the firmware",
    ],
    next: ["delete old files from the card in a card reader", ...retryLine(ctx)],
  }),
  SDSPI_NOT_KLIPPER: (e) => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      str(e, "app")
        ? "the port answers, but not as Klipper: flash-sdcard needs Klipper running on the board"
        : "nothing answered Klipper's identify: wrong port, wrong baud (UART: -b, default 250000), or the board is in a bootloader",
    ],
    next: ["canflash doctor — the serial devices and who holds them"],
  }),
  SDSPI_NO_SPI: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      `this Klipper build was compiled without ${str(e, "missing")}: nothing was written`,
      "flash the first Klipper by copying firmware.bin to the card in a card reader",
    ],
    next: ["canflash --target <board>-sdcard -d /media/<card> klipper.bin"],
  }),
  SDSPI_UNKNOWN_NAME: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      "nothing was written",
      `the running build is not for the ${str(e, "target")} board's MCU (its ${str(e, "kind")} names: ${list(e, "known").slice(0, 12).join(", ")})`,
    ],
    next: ["canflash targets | grep sdcard-spi — pick the row for the board's MCU"],
  }),
  SDSPI_CONVERSION: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      "nothing was sent to the board",
      `its bootloader takes only an image converted with Klipper's scripts/${str(e, "script")}`,
    ],
    next: [
      `run Klipper's own tool: ~/klipper/scripts/flash-sdcard.sh <device> ${str(e, "target")?.replace(/-spi$/, "")}`,
    ],
  }),
  SDSPI_NOT_CONFIRMED: (e) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      str(e, "reason") === "file-left"
        ? "the bootloader did not take the file (canflash removed it): the board still runs its old firmware"
        : "the new firmware did not show itself after the reset",
      "the image may be linked for another bootloader offset, or the board's bootloader looks for another file name",
    ],
    next: ["canflash targets | grep sdcard-spi — check the board row's file names and offset"],
  }),
  SDSPI_NO_RECONNECT: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the file was written and verified, and the board was reset: its bootloader may still be flashing, or the new firmware talks over another port",
    ],
    next: [
      "wait a minute, then check: canflash -d <port> --target <row> --dry-run klipper.bin",
      ...retryLine(ctx),
    ],
  }),
  SDSPI_MCU_SHUTDOWN: (e) =>
    str(e, "state") === "config-refused"
      ? {
          exitCode: ExitCode.REFUSED,
          causes: [
            "nothing was written; Klipper stays shut down until its next reset (FIRMWARE_RESTART)",
            "the row's SD pins are not usable on this build: is it the right board row for this MCU?",
          ],
          next: ["canflash targets | grep sdcard-spi — the boards and their SD wiring"],
        }
      : {
          exitCode: ExitCode.FAILURE,
          causes: [
            "the MCU did not come back unconfigured after reset: stop Klipper (it may reconfigure it)",
          ],
          next: ["sudo systemctl stop klipper, then retry"],
        },
} satisfies HintTable;
