// Errors of the file-copy bootloaders (USB drives of MSC and UF2
// bootloaders, SD cards in this computer). Each carries its facts; the CLI
// words the fix (src/cli/hints/file-copy.ts).

import { CanflashError } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    DRIVE_WRONG: true;
    DRIVE_AMBIGUOUS: true;
    DRIVE_READ_ONLY: true;
    DRIVE_ACCESS: true;
    DRIVE_STAYED: true;
    FAT_TOOL_MISSING: true;
    FAT_TOOL_FAILED: true;
    SDCARD_NOT_CONSUMED: true;
    DRIVE_NOT_GIVEN: true;
    COPY_NOT_AN_IMAGE: true;
  }
}

/** Why a drive is not the row's bootloader. */
export type WrongDriveReason =
  "usb-id" | "label" | "size" | "no-info-uf2" | "board-id" | "not-fat" | "not-a-drive";

/** The drive (or path) is not the bootloader the row describes: nothing was written. */
export class WrongDriveError extends CanflashError {
  constructor(
    readonly drive: string,
    readonly target: string,
    readonly reason: WrongDriveReason,
    /** What the row wants ("1209:db42", "RPI-RP2", "at most 512 MiB"). */
    readonly expected: string,
    /** What the drive has, in the same terms. */
    readonly found: string,
  ) {
    super(
      "DRIVE_WRONG",
      reason === "not-a-drive"
        ? `${drive} is no drive: ${found}`
        : reason === "no-info-uf2"
          ? `${drive} has no INFO_UF2.TXT: it is no UF2 bootloader drive (${target} wants ${expected})`
          : `${drive} is not the bootloader drive of ${target}: its ${REASON_WORD[reason]} is ${found}, expected ${expected}`,
    );
  }
}

const REASON_WORD: Record<WrongDriveReason, string> = {
  "usb-id": "USB id",
  label: "volume label",
  size: "size",
  "no-info-uf2": "INFO_UF2.TXT",
  "board-id": "UF2 Board-ID",
  "not-fat": "file system",
  "not-a-drive": "type",
};

/** Several drives fit the row: canflash will not guess which one. */
export class AmbiguousDriveError extends CanflashError {
  constructor(
    readonly target: string,
    /** The candidates' device paths. */
    readonly drives: readonly string[],
  ) {
    super("DRIVE_AMBIGUOUS", `${drives.length} drives fit ${target}: ${drives.join(", ")}`);
  }
}

export class DriveReadOnlyError extends CanflashError {
  constructor(
    readonly drive: string,
    /** "mount" (mounted ro), "device" (the block device is read-only: an SD card's lock switch), "file". */
    readonly where: "mount" | "device" | "file",
  ) {
    super(
      "DRIVE_READ_ONLY",
      where === "device"
        ? `${drive} is read-only (the block device says so: an SD card's lock switch, or a write-protected drive)`
        : where === "mount"
          ? `${drive} is mounted read-only`
          : `${drive} cannot be written (read-only file)`,
    );
  }
}

/** The drive's device or image cannot be opened (permissions). */
export class DriveAccessError extends CanflashError {
  constructor(
    readonly drive: string,
    /** errno code: EACCES, EPERM, EBUSY. */
    readonly errno: string,
  ) {
    super("DRIVE_ACCESS", `cannot open ${drive}: ${errno}`);
  }
}

/** The copy is on the drive, but the bootloader did not reboot (a drive takes a file by leaving). */
export class DriveStayedError extends CanflashError {
  constructor(
    readonly drive: string,
    readonly timeoutMs: number,
    readonly protocol: string,
  ) {
    super(
      "DRIVE_STAYED",
      `${drive} is still there ${Math.round(timeoutMs / 1000)} s after the copy: the bootloader did not take the file`,
    );
  }
}

/** mtools is needed for a FAT image or an unmounted drive and is not installed. */
export class FatToolMissingError extends CanflashError {
  constructor(readonly tool: string) {
    super("FAT_TOOL_MISSING", `${tool} (mtools) is not installed`);
  }
}

/** An mtools command failed on the image or device. */
export class FatToolError extends CanflashError {
  constructor(
    readonly tool: string,
    readonly drive: string,
    /** Its own words (stderr, first line). */
    readonly detail: string,
  ) {
    super("FAT_TOOL_FAILED", `${tool} failed on ${drive}: ${detail}`);
  }
}

/** The update is still on the card under its own name: the board's bootloader has not read it. */
export class SdcardNotConsumedError extends CanflashError {
  constructor(
    readonly drive: string,
    readonly file: string,
    readonly target: string,
  ) {
    super(
      "SDCARD_NOT_CONSUMED",
      `${file} is still on ${drive}: the board's bootloader has not flashed it (it renames the file once it has)`,
    );
  }
}

/** An SD-card row with no card named: canflash does not guess which drive is the card. */
export class DriveNotGivenError extends CanflashError {
  constructor(readonly target: string) {
    super("DRIVE_NOT_GIVEN", `target ${target} writes to an SD card, and no card was given`);
  }
}

/**
 * The image does not start with the vector table the bootloader looks for:
 * the MSC bootloader skips sectors until one looks like a stack pointer, so
 * such an image would be flashed at the wrong place.
 */
export class CopyImageError extends CanflashError {
  constructor(
    readonly start: number,
    readonly stackPointer: number,
    readonly resetVector: number,
    /** "stack-pointer": word 0 is no RAM address; "reset-handler": word 1 points outside the image. */
    readonly problem: "stack-pointer" | "reset-handler",
  ) {
    super(
      "COPY_NOT_AN_IMAGE",
      problem === "stack-pointer"
        ? `the image's first word 0x${stackPointer.toString(16)} is no initial stack pointer in RAM: it is no firmware linked for 0x${start.toString(16)}`
        : `the image's reset handler 0x${resetVector.toString(16)} is outside the image at 0x${start.toString(16)}: it was built for another bootloader offset`,
    );
  }
}
