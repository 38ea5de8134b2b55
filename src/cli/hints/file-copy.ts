// Hints for the file-copy bootloaders: USB drives of MSC and UF2
// bootloaders, SD cards in this computer's reader.

import { ExitCode } from "../exit-codes.js";
import { list, num, retryLine, str, type HintTable } from "./types.js";

export const fileCopyHints = {
  DRIVE_WRONG: (e, ctx) => {
    const reason = str(e, "reason");
    return {
      exitCode: ExitCode.REFUSED,
      causes: [
        "nothing was written",
        reason === "not-a-drive"
          ? "give the drive's mount point (see lsblk -o NAME,LABEL,MOUNTPOINT), its block device, or a FAT image file"
          : reason === "size" || reason === "usb-id" || reason === "label"
            ? "this is another USB drive or card, not the board's bootloader"
            : reason === "not-fat"
              ? "the card or image has no FAT file system: the board's bootloader reads FAT only (mkfs.vfat, or format it FAT32)"
              : "the drive is no UF2 bootloader of this board (INFO_UF2.TXT names the bootloader's board)",
      ],
      next: [
        `canflash targets ${str(e, "target")} — what this row expects`,
        "lsblk -o NAME,SIZE,LABEL,MOUNTPOINT — which drive is the board",
        ...retryLine(ctx),
      ],
    };
  },
  DRIVE_AMBIGUOUS: (e) => ({
    exitCode: ExitCode.USAGE,
    causes: ["canflash does not guess which of them is the board"],
    next: list(e, "drives").map((d) => `canflash --target ${str(e, "target")} -d ${d} <file>`),
  }),
  DRIVE_READ_ONLY: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      "nothing was written",
      str(e, "where") === "device"
        ? "an SD card's lock switch is on (slide it up), or the reader is write-protected"
        : "the drive was mounted read-only (often after file-system errors)",
    ],
    next: [
      str(e, "where") === "mount"
        ? `remount it writable: sudo mount -o remount,rw ${str(e, "drive")}`
        : "unlock the card and put it back in",
      ...retryLine(ctx),
    ],
  }),
  DRIVE_ACCESS: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      "nothing was written",
      str(e, "errno") === "EBUSY"
        ? "another program holds the device"
        : "your user may not write the block device (group disk) and it is not mounted",
    ],
    next: [
      `mount it instead (udisksctl mount -b ${str(e, "drive")}) and give its folder, or run canflash with sudo`,
      ...retryLine(ctx),
    ],
  }),
  DRIVE_STAYED: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the file is on the drive, but the bootloader did not reboot",
      str(e, "protocol") === "uf2"
        ? "a UF2 for another chip family is ignored by the drive without a word"
        : "the image was not taken (the MSC bootloader takes one copy per session)",
    ],
    next: [
      `unplug the board, bring the bootloader up again (double reset or BOOTSEL), then retry`,
      ...retryLine(ctx),
    ],
  }),
  FAT_TOOL_MISSING: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      `canflash writes unmounted FAT volumes (image files, unmounted drives) with ${str(e, "tool")}`,
    ],
    next: [
      "sudo apt-get install mtools",
      "or mount the drive and give its folder with -d",
      ...retryLine(ctx),
    ],
  }),
  FAT_TOOL_FAILED: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the FAT volume is damaged or full, or the device went away"],
    next: ["fsck.vfat -n <image or device> to check it", ...retryLine(ctx)],
  }),
  SDCARD_NOT_CONSUMED: (e) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the card was not in the board when it reset, or the board was not reset",
      "the image's file name is not the one this board's bootloader looks for",
      "the bootloader refused the file (some need a new name each time)",
    ],
    next: [
      "put the card in the board, press reset (or power-cycle), wait ~10 s, then check again",
      `canflash --target ${str(e, "target")} -d ${str(e, "drive")} -s`,
    ],
  }),
  DRIVE_NOT_GIVEN: (e) => ({
    exitCode: ExitCode.USAGE,
    causes: ["an SD card has no id canflash could know it by"],
    next: [
      `canflash --target ${str(e, "target")} -d /media/$USER/<card> <file>   (lsblk -o NAME,LABEL,MOUNTPOINT lists them)`,
    ],
  }),
  COPY_NOT_AN_IMAGE: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      "nothing was written",
      str(e, "problem") === "reset-handler"
        ? "the image was built for another bootloader offset"
        : "the file is no firmware image (a wrong file, or a .bin of something else)",
    ],
    next: [
      `build Klipper for the application start 0x${(num(e, "start") ?? 0).toString(16)} (make menuconfig: bootloader offset), then retry`,
    ],
  }),
} satisfies HintTable;
