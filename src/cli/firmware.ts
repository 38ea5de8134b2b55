// Reading the firmware file named on the command line, before any bus is
// opened: a missing, unreadable or empty file is a usage error and nothing
// is sent anywhere.

import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { resolve } from "node:path";
import type { DeviceInfo } from "../flash-api/adapter.js";
import {
  detectImageFormat,
  parseBin,
  parseImage,
  type FirmwareImage,
  type ImageFormat,
} from "../flasher/image/index.js";
import type { FlashImage } from "../flasher/execute.js";
import type { PlanInput } from "../flasher/plan.js";
import { imageDictionary } from "../flasher/preflight.js";
import type { KlipperDictionary } from "../klippy-bridge/dictionary.js";
import { UsageError } from "./usage-error.js";

/** flashtool's default firmware path. */
export const DEFAULT_FIRMWARE = "~/klipper/out/klipper.bin";

export function expandPath(path: string, cwd: string, home = homedir()): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return resolve(home, path.slice(2));
  return resolve(cwd, path);
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
}

export async function readFirmware(path: string, cwd: string): Promise<FirmwareFile> {
  const full = expandPath(path, cwd);
  let info;
  try {
    info = await stat(full);
  } catch {
    throw new UsageError(
      `firmware file not found: ${full}`,
      "build the firmware first (make in ~/klipper) or give the path with -f <file>",
    );
  }
  if (!info.isFile())
    throw new UsageError(
      `${full} is not a file`,
      "give the path of the firmware file, e.g. ~/klipper/out/klipper.bin",
    );
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(full));
  } catch (e) {
    throw new UsageError(
      `cannot read ${full}: ${(e as Error).message}`,
      "check the file's permissions",
    );
  }
  if (bytes.length === 0) {
    throw new UsageError(
      `${full} is empty: nothing to flash`,
      "rebuild the firmware (make in ~/klipper); an interrupted build can leave an empty file",
    );
  }
  // Content decides the format (a HEX file named .bin is still HEX); errors name the file and line.
  const format = detectImageFormat(bytes, full);
  if (format === "bin") {
    return {
      path: full,
      bytes,
      format,
      parsed: undefined,
      dictionary: imageDictionary({ segments: [{ address: 0, data: bytes }] }),
      image: (device: DeviceInfo): PlanInput =>
        parseBin(bytes, { base: device.geometry.start, source: full }),
    };
  }
  const parsed = parseImage(bytes, { format, source: full });
  return { path: full, bytes, format, parsed, image: parsed, dictionary: imageDictionary(parsed) };
}
