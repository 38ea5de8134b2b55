// What a file-copy row asks for, from its row of the device table: which
// drive (USB ids, labels, UF2 Board-ID), which file name, UF2 or raw, and
// what shows that the bootloader took the file (the drive leaving; on an SD
// card, the file renamed).

import { mcuFlash, type Target } from "../../targets/index.js";
import { TargetTableError } from "../../targets/index.js";

export type CopyKind = "msc" | "uf2" | "sdcard";

export interface CopyProfile {
  kind: CopyKind;
  /** The name written to the drive's root. */
  fileName: string;
  /** SD cards: what the bootloader renames the file to once flashed. */
  currentName?: string;
  /** UF2: the family id every block carries. */
  uf2Family?: number;
  usbIds: readonly string[];
  labels: readonly string[];
  /** UF2: what INFO_UF2.TXT's Board-ID starts with. */
  boardId?: string;
  /** The bootloader reboots once it has the file: its drive goes away. */
  leaves: boolean;
  /** A bootloader's synthetic drive is small; a bigger one is someone's USB stick. */
  maxDriveBytes?: number;
}

/** The largest drive taken for a bootloader's own (RP2040's is 128 MiB). */
export const MAX_BOOTLOADER_DRIVE_BYTES = 512 * 1024 * 1024;
/** What a copy goes to first on an SD card, renamed once complete. */
export const SDCARD_TEMP_NAME = "CANFLASH.TMP";

/** The UF2 family of a row: the one its MCUs share (mcus.json), or a table error. */
function familyOf(t: Target): number {
  const fams = new Set(t.mcu.map((m) => mcuFlash(m)?.uf2Families?.[0]));
  const [f] = fams;
  if (fams.size !== 1 || f === undefined)
    throw new TargetTableError(
      t.id,
      "a UF2 row needs MCUs with one shared uf2Families entry in mcus.json",
    );
  return f;
}

export function profileOf(t: Target): CopyProfile {
  const base = { usbIds: t.usbIds, labels: t.volumeLabels ?? [] };
  if (t.protocol === "uf2")
    return {
      ...base,
      kind: "uf2",
      fileName: t.firmwareName ?? "KLIPPER.UF2",
      uf2Family: familyOf(t),
      ...(t.uf2BoardId ? { boardId: t.uf2BoardId } : {}),
      leaves: true,
      maxDriveBytes: MAX_BOOTLOADER_DRIVE_BYTES,
    };
  if (t.protocol === "msc")
    return {
      ...base,
      kind: "msc",
      fileName: t.firmwareName ?? "KLIPPER.BIN",
      leaves: true,
      maxDriveBytes: MAX_BOOTLOADER_DRIVE_BYTES,
    };
  return {
    ...base,
    kind: "sdcard",
    fileName: t.firmwareName ?? "firmware.bin",
    currentName: t.currentName ?? "FIRMWARE.CUR",
    leaves: false,
  };
}
