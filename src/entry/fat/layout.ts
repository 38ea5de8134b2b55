// Where a FAT volume's parts lie, pure: the boot sector's BPB (at sector 0
// of a superfloppy, or of the first FAT partition of an MBR, as SD cards
// come formatted), the FAT type by cluster count as the FAT specification
// defines it, and the FAT32 FSInfo sector.

import { u16, u32 } from "./bytes.js";
import { CanflashError } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    FAT_NOT_FAT: true;
    FAT_FULL: true;
  }
}

export class FatFormatError extends CanflashError {
  constructor(readonly detail: string) {
    super("FAT_NOT_FAT", `the card has no FAT file system a bootloader can read: ${detail}`);
  }
}

export class FatFullError extends CanflashError {
  constructor(
    readonly what: "clusters" | "root-directory",
    readonly neededBytes: number,
  ) {
    super(
      "FAT_FULL",
      what === "clusters"
        ? `the card has no room for ${neededBytes} bytes`
        : "the card's root folder has no free entry left",
    );
  }
}

export type FatType = 12 | 16 | 32;

export interface FatLayout {
  type: FatType;
  /** First sector of the volume on the card (0, or the partition's start). */
  base: number;
  sectorsPerCluster: number;
  reserved: number;
  fats: number;
  /** Sectors per FAT. */
  fatSectors: number;
  /** FAT12/16: the fixed root folder's first sector and its entry count. */
  rootSector: number;
  rootEntries: number;
  /** FAT32: the root folder's first cluster. */
  rootCluster: number;
  /** First sector of cluster 2. */
  dataSector: number;
  /** Clusters 2 … clusters+1 exist. */
  clusters: number;
  /** FAT32: the FSInfo sector (absolute), when there is one. */
  fsInfoSector: number | undefined;
}

const FAT_PARTITION_TYPES = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);

/** A boot sector's BPB, or a reason it is none. */
function parseBpb(b: Uint8Array, base: number): FatLayout | string {
  if (b[510] !== 0x55 || b[511] !== 0xaa) return "no boot-sector signature";
  if (b[0] !== 0xeb && b[0] !== 0xe9) return "no boot-sector jump";
  const bytesPerSector = u16(b, 11);
  if (bytesPerSector !== 512) return `${bytesPerSector}-byte sectors (SD bootloaders read 512)`;
  const spc = b[13]!;
  if (spc === 0 || (spc & (spc - 1)) !== 0) return "a bad sectors-per-cluster value";
  const reserved = u16(b, 14);
  const fats = b[16]!;
  const rootEntries = u16(b, 17);
  const total = u16(b, 19) || u32(b, 32);
  const fatSectors = u16(b, 22) || u32(b, 36);
  if (reserved === 0 || fats === 0 || fatSectors === 0 || total === 0) return "an empty BPB";
  const rootSectors = Math.ceil((rootEntries * 32) / 512);
  const dataStart = reserved + fats * fatSectors + rootSectors;
  const clusters = Math.floor((total - dataStart) / spc);
  const type: FatType = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
  const fsInfo = type === 32 ? u16(b, 48) : 0;
  return {
    type,
    base,
    sectorsPerCluster: spc,
    reserved,
    fats,
    fatSectors,
    rootSector: base + reserved + fats * fatSectors,
    rootEntries: type === 32 ? 0 : rootEntries,
    rootCluster: type === 32 ? u32(b, 44) : 0,
    dataSector: base + dataStart,
    clusters,
    fsInfoSector: type === 32 && fsInfo > 0 && fsInfo < reserved ? base + fsInfo : undefined,
  };
}

/** The layout from sector 0 (and, for an MBR, the first FAT partition's boot sector). */
export async function readLayout(read: (s: number) => Promise<Uint8Array>): Promise<FatLayout> {
  const s0 = await read(0);
  const direct = parseBpb(s0, 0);
  if (typeof direct !== "string") return direct;
  if (s0[510] === 0x55 && s0[511] === 0xaa) {
    for (let p = 0; p < 4; p++) {
      const e = 446 + p * 16;
      if (!FAT_PARTITION_TYPES.has(s0[e + 4]!)) continue;
      const start = u32(s0, e + 8);
      const l = parseBpb(await read(start), start);
      if (typeof l !== "string") return l;
      throw new FatFormatError(`partition ${p + 1}: ${l}`);
    }
    if ([0, 1, 2, 3].some((p) => s0[446 + p * 16 + 4] === 0x07))
      throw new FatFormatError("its partition is exFAT or NTFS (format it FAT32)");
  }
  throw new FatFormatError(direct);
}
