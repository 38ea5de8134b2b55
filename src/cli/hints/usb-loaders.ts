// Hints for the USB bootloaders written on the USB seam besides DFU:
// HalfKay (Teensy), the STM32 HID bootloader, RP2040 PICOBOOT.

import { ExitCode } from "../exit-codes.js";
import { num, retryLine, str, type HintTable } from "./types.js";

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
  PICOBOOT_COMMAND_FAILED: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      num(e, "status") === undefined
        ? "the boot ROM refused a command and its status could not be read"
        : "the boot ROM refused a command (the status above says why)",
      "the board stays in BOOTSEL mode and will not run a partial image until it is flashed again",
    ],
    next: retryLine(ctx),
  }),
  PICOBOOT_GONE: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the RP2040 was unplugged or reset in the middle of the flash",
      ...(e["changed"] === true ? ["its flash holds a partial image"] : []),
    ],
    next: ["hold BOOTSEL while plugging it in again", ...retryLine(ctx)],
  }),
  PICOBOOT_NO_INTERFACE: () => ({
    exitCode: ExitCode.INTERFACE,
    causes: ["the device answers as 2e8a:0003 but offers no PICOBOOT interface"],
    next: ["copy the UF2 to the RPI-RP2 drive instead"],
  }),
  PICOBOOT_IMAGE_LAYOUT: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      num(e, "start") === 0x1000_0000
        ? "this target writes a Klipper built with 'No bootloader' (make menuconfig: Bootloader offset)"
        : "this target writes a Klipper built for the 16KiB bootloader offset, above Katapult",
    ],
    next: [
      "rebuild with the matching Bootloader offset, or pick the other RP2040 target: canflash targets",
    ],
  }),
  PICOBOOT_NO_BOOTLOADER_BELOW: () => ({
    exitCode: ExitCode.REFUSED,
    causes: ["an image for the Katapult offset would not boot: the flash start holds no boot2"],
    next: [
      "install Katapult first, or flash a Klipper built with 'No bootloader' to the rp2040-picoboot target",
    ],
  }),
  PICOBOOT_DID_NOT_REBOOT: () => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the boot ROM ignored REBOOT (the image was written and verified)"],
    next: ["unplug and replug the board to start the new firmware"],
  }),
  USB_OTHER_BOOTLOADER: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      `a 1200-baud touch of this board starts ${str(e, "bootloader") ?? "another bootloader"}, which now waits for an image: nothing was written`,
    ],
    next: [
      "flash it through that bootloader: canflash -d /dev/serial/by-id/usb-katapult_* out/klipper.bin",
    ],
  }),
} satisfies HintTable;
