// The FAT boot sector (pure): is a block device or image a FAT volume at
// all, how big is it, what is its label. Offsets from the FAT specification:
// bytes/sector at 11, total sectors at 19 (16-bit) or 32 (32-bit),
// sectors/FAT at 22 (0 on FAT32), the label at 43 (FAT12/16) or 71 (FAT32),
// the signature 55 AA at 510.

export interface FatBoot {
  fat: "FAT12/16" | "FAT32";
  bytesPerSector: number;
  /** Volume size in bytes. */
  sizeBytes: number;
  /** The boot sector's label, trimmed ("NO NAME" is no label). */
  label: string | undefined;
}

/** The boot sector's facts, or undefined when these 512 bytes are no FAT boot sector. */
export function parseFatBoot(sector: Uint8Array): FatBoot | undefined {
  if (sector.length < 512 || sector[510] !== 0x55 || sector[511] !== 0xaa) return undefined;
  const dv = new DataView(sector.buffer, sector.byteOffset, 512);
  const bps = dv.getUint16(11, true);
  if (![512, 1024, 2048, 4096].includes(bps) || sector[13] === 0) return undefined;
  const fat32 = dv.getUint16(22, true) === 0;
  const total = dv.getUint16(19, true) || dv.getUint32(32, true);
  const at = fat32 ? 71 : 43;
  const signature = sector[fat32 ? 66 : 38];
  const raw =
    signature === 0x29
      ? new TextDecoder("latin1").decode(sector.subarray(at, at + 11)).trimEnd()
      : "";
  return {
    fat: fat32 ? "FAT32" : "FAT12/16",
    bytesPerSector: bps,
    sizeBytes: total * bps,
    label: raw && raw !== "NO NAME" ? raw : undefined,
  };
}
