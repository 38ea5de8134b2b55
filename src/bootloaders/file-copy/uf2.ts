// UF2 writer (pure): the blocks a UF2 drive flashes, built from the planned
// 256-byte blocks of an image, and INFO_UF2.TXT read as fields. The reader
// is src/flasher/image/uf2.ts; the block layout (512 bytes, little endian):
//   0 magicStart0 | 4 magicStart1 | 8 flags | 12 targetAddr | 16 payloadSize
//   20 blockNo | 24 numBlocks | 28 familyID | 32 data[476] | 508 magicEnd
// Every block carries the family id (flag 0x2000) so a drive for another
// chip ignores it instead of flashing it.

export const UF2_BLOCK_BYTES = 512;
/** The payload per block the bootloaders and Klipper's elf2uf2 use. */
export const UF2_PAYLOAD_BYTES = 256;
const MAGIC_START0 = 0x0a324655;
const MAGIC_START1 = 0x9e5d5157;
const MAGIC_END = 0x0ab16f30;
const FLAG_FAMILY_ID = 0x2000;

export interface Uf2Page {
  /** Flash address of the payload (256-aligned). */
  address: number;
  /** Exactly UF2_PAYLOAD_BYTES. */
  data: Uint8Array;
}

/**
 * One UF2 file from pages in address order. Throws RangeError for a page
 * that is not 256 bytes or not 256-aligned (the drives refuse them).
 */
export function encodeUf2(pages: readonly Uf2Page[], familyId: number): Uint8Array {
  const out = new Uint8Array(pages.length * UF2_BLOCK_BYTES);
  const dv = new DataView(out.buffer);
  pages.forEach((p, i) => {
    if (p.data.length !== UF2_PAYLOAD_BYTES || p.address % UF2_PAYLOAD_BYTES !== 0)
      throw new RangeError(
        `UF2 page ${i} at 0x${p.address.toString(16)} has ${p.data.length} bytes; pages are 256 bytes at 256-aligned addresses`,
      );
    const o = i * UF2_BLOCK_BYTES;
    dv.setUint32(o, MAGIC_START0, true);
    dv.setUint32(o + 4, MAGIC_START1, true);
    dv.setUint32(o + 8, FLAG_FAMILY_ID, true);
    dv.setUint32(o + 12, p.address, true);
    dv.setUint32(o + 16, UF2_PAYLOAD_BYTES, true);
    dv.setUint32(o + 20, i, true);
    dv.setUint32(o + 24, pages.length, true);
    dv.setUint32(o + 28, familyId >>> 0, true);
    out.set(p.data, o + 32);
    dv.setUint32(o + 508, MAGIC_END, true);
  });
  return out;
}

/** What a UF2 bootloader says about itself in INFO_UF2.TXT. */
export interface Uf2Info {
  /** First line ("UF2 Bootloader v1.0"). */
  version: string;
  model?: string;
  boardId?: string;
}

/** INFO_UF2.TXT: a first line, then "Key: value" lines. */
export function parseInfoUf2(text: string): Uf2Info {
  const lines = text.split(/\r?\n/);
  const info: Uf2Info = { version: (lines[0] ?? "").trim() };
  for (const line of lines.slice(1)) {
    const m = /^\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    if (m[1]!.toLowerCase() === "model") info.model = m[2]!;
    if (m[1]!.toLowerCase() === "board-id") info.boardId = m[2]!;
  }
  return info;
}

/** The Klipper MCU a UF2 Board-ID names, where it does ("SAMD51J19A-Metro-v0" → samd51j19a, RPI-RP2 → rp2040). */
export function mcuOfBoardId(boardId: string | undefined): string | undefined {
  if (!boardId) return undefined;
  if (/^RPI-RP2\b/i.test(boardId)) return "rp2040";
  const m = /^(SAM[CDE]\d\d[A-Z]\d\d[A-Z])\b/i.exec(boardId);
  return m ? m[1]!.toLowerCase() : undefined;
}
