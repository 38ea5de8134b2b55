// Is this drive the row's bootloader? Checked before anything is written:
// the USB id of the disk (when it is a USB disk), the volume label, the
// size (a bootloader's synthetic drive is small), a FAT file system, and
// for UF2 drives INFO_UF2.TXT with the row's Board-ID. A read-only mount or
// device is refused here too.

import type { Target } from "../../targets/index.js";
import type { Drive } from "./drives.js";
import { DriveReadOnlyError, WrongDriveError } from "./errors.js";
import { parseFatBoot } from "./fat-boot.js";
import { FAT_TYPES } from "./mounts.js";
import type { CopyProfile } from "./profile.js";
import { parseInfoUf2, type Uf2Info } from "./uf2.js";
import type { Volume } from "./volume.js";

export interface DriveFacts {
  label?: string;
  sizeBytes?: number;
  /** "vid:pid" of the USB disk, when it is one. */
  usbId?: string;
  info?: Uf2Info;
}

const mib = (n: number) => `${Math.round(n / 1048576)} MiB`;

/** The drive's facts; throws WrongDriveError or DriveReadOnlyError when it is not the row's. */
export async function identifyDrive(
  drive: Drive,
  volume: Volume,
  p: CopyProfile,
  t: Target,
): Promise<DriveFacts> {
  const where = drive.path;
  const wrong = (
    reason: ConstructorParameters<typeof WrongDriveError>[2],
    expected: string,
    found: string,
  ) => new WrongDriveError(where, t.id, reason, expected, found);
  const usb = drive.block?.usb;
  const usbId = usb ? `${usb.vid}:${usb.pid}` : undefined;
  if (usbId && p.usbIds.length > 0 && !p.usbIds.includes(usbId))
    throw wrong("usb-id", p.usbIds.join(" or "), usbId);
  if (p.kind === "msc" && !usbId)
    // The MSC bootloader has no file of its own to know it by: only its USB id says it is the one.
    throw wrong("usb-id", p.usbIds.join(" or "), "unknown (not a USB disk)");

  let boot: ReturnType<typeof parseFatBoot>;
  if (drive.kind === "mounted") {
    if (!FAT_TYPES.includes(drive.mount.fstype)) throw wrong("not-fat", "FAT", drive.mount.fstype);
  } else {
    const sector = await volume.bootSector();
    boot = sector ? parseFatBoot(sector) : undefined;
    if (!boot) throw wrong("not-fat", "FAT", "no FAT boot sector");
  }
  const label = drive.block?.label ?? boot?.label;
  if (p.labels.length > 0 && label !== undefined && !p.labels.includes(label))
    throw wrong("label", p.labels.join(" or "), label);
  if (p.labels.length > 0 && label === undefined && !usbId)
    throw wrong("label", p.labels.join(" or "), "none");
  const sizeBytes = drive.block?.sizeBytes || boot?.sizeBytes;
  if (p.maxDriveBytes !== undefined && sizeBytes !== undefined && sizeBytes > p.maxDriveBytes)
    throw wrong("size", `at most ${mib(p.maxDriveBytes)}`, mib(sizeBytes));

  let info: Uf2Info | undefined;
  if (p.kind === "uf2") {
    const raw = await volume.read("INFO_UF2.TXT");
    if (!raw)
      throw wrong("no-info-uf2", p.boardId ? `Board-ID ${p.boardId}…` : "INFO_UF2.TXT", "none");
    info = parseInfoUf2(new TextDecoder().decode(raw));
    if (p.boardId && !(info.boardId ?? "").toUpperCase().startsWith(p.boardId.toUpperCase()))
      throw wrong("board-id", `${p.boardId}…`, info.boardId ?? "none");
  }
  if (drive.kind === "mounted" && drive.mount.options.includes("ro"))
    throw new DriveReadOnlyError(where, "mount");
  if (drive.block?.readOnly) throw new DriveReadOnlyError(where, "device");
  return {
    ...(label !== undefined ? { label } : {}),
    ...(sizeBytes ? { sizeBytes } : {}),
    ...(usbId ? { usbId } : {}),
    ...(info ? { info } : {}),
  };
}
