// A board row of Klipper's flash-sdcard (board_defs.py) as the driver
// needs it: the SD slot's SPI (a hardware bus, or software SPI pins MISO,
// MOSI, SCK), its chip select, the bootloader's file names, and the quirks.

import type { Target } from "../../targets/index.js";
import { TargetTableError } from "../../targets/index.js";

export interface SdSpiProfile {
  /** Klipper's board name (board_defs.py), for messages. */
  board: string;
  bus?: string;
  softwarePins?: readonly [string, string, string];
  csPin: string;
  fileName: string;
  currentName: string;
  /** The bootloader leaves no sign to check (board_defs' skip_verify). */
  skipVerify: boolean;
  /** The file gets a YYYYmmddHHMMSS prefix, and same-extension files go first. */
  uniqueName: boolean;
  /** A vendor conversion the image needs first (unsupported here). */
  conversionScript?: string;
}

export function sdSpiProfile(t: Target): SdSpiProfile {
  const s = t.sdSpi;
  if (!s) throw new TargetTableError(t.id, "an sdcard-spi row needs its sdSpi wiring");
  return {
    board: s.board,
    ...(s.bus ? { bus: s.bus } : {}),
    ...(s.softwarePins ? { softwarePins: s.softwarePins } : {}),
    csPin: s.csPin,
    fileName: t.firmwareName ?? "firmware.bin",
    currentName: t.currentName ?? "FIRMWARE.CUR",
    skipVerify: s.skipVerify ?? false,
    uniqueName: s.uniqueFirmwareName ?? false,
    ...(s.conversionScript ? { conversionScript: s.conversionScript } : {}),
  };
}

/** "spi1", or "software SPI PC8,PD2,PC12". */
export const busText = (p: SdSpiProfile): string =>
  p.bus ?? `software SPI ${p.softwarePins!.join(",")}`;

/** requires_unique_fw_name: "20240102030405firmware.bin" from the local time. */
export function uniqueFileName(base: string, now: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${now.getFullYear()}${two(now.getMonth() + 1)}${two(now.getDate())}` +
    `${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}${base}`
  );
}
