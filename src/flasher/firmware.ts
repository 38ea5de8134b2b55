// Reading a firmware file before any bus is opened: a missing, unreadable
// or empty file is a FirmwareFileError and nothing is sent anywhere. Content
// decides the format (a HEX file named .bin is still HEX); a raw .bin is
// placed at the bootloader's start once it is known.

import { readFile, stat } from "node:fs/promises";
import type { DeviceInfo } from "../flash-api/adapter.js";
import type { PlanInput } from "../flash-api/geometry.js";
import type { KlipperDictionary } from "../klippy-bridge/dictionary.js";
import { CanflashError } from "../util/errors.js";
import type { FlashImage } from "./execute.js";
import {
  detectImageFormat,
  parseBin,
  parseImage,
  type FirmwareImage,
  type ImageFormat,
} from "./image/index.js";
import { expandPath } from "./inputs.js";
import { imageDictionary } from "./preflight.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    FIRMWARE_FILE: true;
  }
}

export { DEFAULT_FIRMWARE, expandPath } from "./inputs.js";
import { DFU_SUFFIX_LENGTH, readDfuSuffix, type DfuSuffix } from "./image/dfu-suffix.js";

export class FirmwareFileError extends CanflashError {
  constructor(
    readonly path: string,
    readonly problem: "not-found" | "not-a-file" | "unreadable" | "empty",
    readonly detail?: string,
  ) {
    super(
      "FIRMWARE_FILE",
      problem === "not-found"
        ? `firmware file not found: ${path}`
        : problem === "not-a-file"
          ? `${path} is not a file`
          : problem === "empty"
            ? `${path} is empty: nothing to flash`
            : `cannot read ${path}${detail ? `: ${detail}` : ""}`,
    );
  }
}

export interface FirmwareFile {
  path: string;
  bytes: Uint8Array;
  format: ImageFormat;
  /** The image; a raw .bin is placed at the bootloader's start address once it is known. */
  image: FlashImage;
  /** Intel HEX, ELF and UF2 carry their addresses: parsed before anything is sent. */
  parsed: FirmwareImage | undefined;
  /** The Klipper data dictionary built into the image (none: not a Klipper build, checks skipped). */
  dictionary: KlipperDictionary | undefined;
  /** A raw binary ending in a DFU suffix: the suffix (stripped from `bytes`, never written). */
  dfuSuffix?: DfuSuffix;
}

/** Reads and parses a firmware file. Throws FirmwareFileError or an ImageError. */
export async function readFirmware(
  path: string,
  cwd: string,
  home?: string,
): Promise<FirmwareFile> {
  const full = expandPath(path, cwd, home);
  const info = await stat(full).catch(() => undefined);
  if (!info) throw new FirmwareFileError(full, "not-found");
  if (!info.isFile()) throw new FirmwareFileError(full, "not-a-file");
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(full));
  } catch (e) {
    throw new FirmwareFileError(full, "unreadable", (e as Error).message);
  }
  if (bytes.length === 0) throw new FirmwareFileError(full, "empty");
  const format = detectImageFormat(bytes, full);
  const dfuSuffix = format === "bin" ? readDfuSuffix(bytes) : undefined;
  if (dfuSuffix) bytes = bytes.subarray(0, bytes.length - DFU_SUFFIX_LENGTH);
  if (format === "bin") {
    return {
      path: full,
      bytes,
      format,
      parsed: undefined,
      ...(dfuSuffix ? { dfuSuffix } : {}),
      dictionary: imageDictionary({ segments: [{ address: 0, data: bytes }] }),
      image: (device: DeviceInfo): PlanInput =>
        parseBin(bytes, { base: device.geometry.start, source: full }),
    };
  }
  const parsed = parseImage(bytes, { format, source: full });
  return { path: full, bytes, format, parsed, image: parsed, dictionary: imageDictionary(parsed) };
}
