// Hints for firmware files and images.

import { ExitCode } from "../exit-codes.js";
import { str, type HintTable, type HintFn } from "./types.js";

const rebuild: HintFn = (e) => ({
  exitCode: ExitCode.USAGE,
  next: [str(e, "fix") ?? "rebuild the firmware (make in ~/klipper) and flash out/klipper.bin"],
});

export const imageHints = {
  IMAGE_FORMAT: rebuild,
  IMAGE_EMPTY: rebuild,
  IMAGE_NOT_FIRMWARE: rebuild,
  IMAGE_UNSUPPORTED: rebuild,
  IMAGE_OVERLAP: rebuild,
  IMAGE_TOO_LARGE: rebuild,
  IMAGE_NEEDS_BASE: rebuild,
  IMAGE_OUT_OF_RANGE: rebuild,
  IMAGE_READ: rebuild,
  FIRMWARE_FILE: (e) => ({
    exitCode: ExitCode.USAGE,
    next: [
      e.problem === "not-found"
        ? "build the firmware first (make in ~/klipper) or give the path with -f <file>"
        : e.problem === "not-a-file"
          ? "give the path of the firmware file, e.g. ~/klipper/out/klipper.bin"
          : e.problem === "empty"
            ? "rebuild the firmware (make in ~/klipper); an interrupted build can leave an empty file"
            : "check the file's permissions",
    ],
  }),
} satisfies HintTable;
