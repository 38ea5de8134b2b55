// UF2 reader (out/klipper.uf2 for RP2040, UF2 bootloaders on SAMD51). A UF2
// file is a sequence of 512-byte blocks, little-endian fields:
//   0 magicStart0 0x0A324655 | 4 magicStart1 0x9E5D5157 | 8 flags | 12 targetAddr
//   16 payloadSize (<= 476) | 20 blockNo | 24 numBlocks | 28 familyID or file size
//   32 data[476] | 508 magicEnd 0x0AB16F30
// Flags: 0x1 not for main flash (block skipped), 0x1000 file container
// (refused), 0x2000 familyID present; 0x4000 (MD5) and 0x8000 (extension tags)
// do not change the data and are ignored. Blocks may come in any order, but
// the numbering must be consistent: every block says the same numBlocks, that
// equals the blocks in the file, and each blockNo appears once.

import {
  EmptyImageError,
  ImageFormatError,
  OverlappingSegmentsError,
  UnsupportedImageError,
  hex,
  type ImageLocation,
} from "./errors.js";
import { ADDRESS_SPACE_END, type FirmwareImage } from "./model.js";
import { SegmentBuilder } from "./segments.js";

export const UF2_BLOCK_SIZE = 512;
export const UF2_MAGIC_START0 = 0x0a324655;
export const UF2_MAGIC_START1 = 0x9e5d5157;
export const UF2_MAGIC_END = 0x0ab16f30;
export const UF2_MAX_PAYLOAD = 476;
export const UF2_FLAG_NOT_MAIN_FLASH = 0x1;
export const UF2_FLAG_FILE_CONTAINER = 0x1000;
export const UF2_FLAG_FAMILY_ID = 0x2000;

const CORRUPT = "The file is corrupt: rebuild it or copy it again";

/** True if `bytes` starts with the two UF2 start magics. */
export function hasUf2Magic(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 8);
  return dv.getUint32(0, true) === UF2_MAGIC_START0 && dv.getUint32(4, true) === UF2_MAGIC_START1;
}

/**
 * Reads a UF2 file. Throws ImageFormatError naming the block and its offset
 * (bad magic, payload size, numbering, truncation), UnsupportedImageError
 * (file containers, several chip families), EmptyImageError (no main-flash
 * data), OverlappingSegmentsError naming both blocks, ImageTooLargeError.
 */
export function parseUf2(bytes: Uint8Array, source = "firmware.uf2"): FirmwareImage {
  const total = Math.floor(bytes.length / UF2_BLOCK_SIZE);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const loc = (block: number): ImageLocation => ({ block, offset: block * UF2_BLOCK_SIZE });
  const fail = (where: ImageLocation, problem: string, fix = CORRUPT): never => {
    throw new ImageFormatError(source, "uf2", where, problem, fix);
  };
  if (bytes.length === 0) throw new EmptyImageError(source, "uf2", "the file is 0 bytes");
  if (bytes.length % UF2_BLOCK_SIZE !== 0) {
    fail(
      loc(total),
      `truncated: the file is ${bytes.length} bytes, not a whole number of 512-byte blocks`,
      "The file was cut short: rebuild it or copy it again",
    );
  }

  const seen = new Int32Array(total).fill(-1);
  const builder = new SegmentBuilder(source, "uf2", total * 256);
  let numBlocks = -1;
  let family: number | undefined;
  for (let i = 0; i < total; i++) {
    const o = i * UF2_BLOCK_SIZE;
    const magic = (at: number, want: number, name: string) => {
      const got = dv.getUint32(o + at, true);
      if (got !== want) {
        fail(
          loc(i),
          `${name} is ${hex(got)}, expected ${hex(want)}`,
          i === 0
            ? "This is not a UF2 file; pass the firmware's .uf2, .bin, .elf or .hex"
            : CORRUPT,
        );
      }
    };
    magic(0, UF2_MAGIC_START0, "magicStart0");
    magic(4, UF2_MAGIC_START1, "magicStart1");
    magic(508, UF2_MAGIC_END, "magicEnd");
    const flags = dv.getUint32(o + 8, true);
    const target = dv.getUint32(o + 12, true);
    const payload = dv.getUint32(o + 16, true);
    const blockNo = dv.getUint32(o + 20, true);
    const count = dv.getUint32(o + 24, true);
    const word28 = dv.getUint32(o + 28, true);

    if (flags & UF2_FLAG_FILE_CONTAINER) {
      throw new UnsupportedImageError(
        source,
        "uf2",
        `a UF2 file container (flag 0x1000 in block ${i})`,
        "It carries files, not a flash image; pass the firmware's own .uf2 or .bin",
      );
    }
    if (payload > UF2_MAX_PAYLOAD) {
      fail(
        loc(i),
        `payloadSize ${payload} is larger than the ${UF2_MAX_PAYLOAD} bytes a block holds`,
      );
    }
    if (numBlocks < 0) {
      numBlocks = count;
      if (count !== total) {
        fail(
          loc(i),
          `numBlocks says the file has ${count} blocks but it holds ${total}`,
          count > total
            ? "Blocks are missing (truncated or partial copy): rebuild it or copy it again"
            : "Several UF2 files may have been joined; use a single firmware .uf2",
        );
      }
    } else if (count !== numBlocks) {
      fail(loc(i), `numBlocks is ${count} but block 0 says ${numBlocks}`);
    }
    if (blockNo >= count) fail(loc(i), `blockNo ${blockNo} is not below numBlocks ${count}`);
    const dup = seen[blockNo]!;
    if (dup >= 0) {
      fail(loc(i), `blockNo ${blockNo} appears twice, first in block ${dup}`);
    }
    seen[blockNo] = i;

    if (flags & UF2_FLAG_FAMILY_ID) {
      if (family !== undefined && family !== word28) {
        throw new UnsupportedImageError(
          source,
          "uf2",
          `a UF2 with several chip families (${hex(family)} and ${hex(word28)} in block ${i})`,
          "Pass a UF2 built for one chip",
        );
      }
      family = word28;
    }
    if (flags & UF2_FLAG_NOT_MAIN_FLASH) continue;
    if (target + payload > ADDRESS_SPACE_END) {
      fail(loc(i), `payload at ${hex(target)} runs past the 4 GiB address space`);
    }
    builder.add(target, bytes.subarray(o + 32, o + 32 + payload));
  }

  if (builder.size === 0) {
    throw new EmptyImageError(source, "uf2", "no block carries data for main flash");
  }
  const segments = builder.finish((address) => {
    const hits: number[] = [];
    for (let i = 0; i < total && hits.length < 2; i++) {
      const o = i * UF2_BLOCK_SIZE;
      if (dv.getUint32(o + 8, true) & UF2_FLAG_NOT_MAIN_FLASH) continue;
      const t = dv.getUint32(o + 12, true);
      if (address >= t && address < t + dv.getUint32(o + 16, true)) hits.push(i);
    }
    throw new OverlappingSegmentsError(
      source,
      "uf2",
      address,
      loc(hits[0] ?? 0),
      loc(hits[1] ?? 0),
    );
  });
  return family === undefined
    ? { format: "uf2", source, segments }
    : { format: "uf2", source, segments, uf2FamilyId: family };
}
