// canflash's SAM-BA applet: the assembled bytes of applet.S (beside this
// file; `arm-none-eabi-as -mcpu=cortex-m0plus` gives exactly these, which a
// test checks when the assembler is installed) and where its slots are.
// Cortex-M flash is written by storing words into the flash addresses (the
// EEFC page latch, the NVM page buffer), which only code on the chip can do:
// the host uploads this routine with `S` and runs it with `G` (sam-ba.md §5).
//
// Two entries share the slots: `copy` moves `words` words from `src` to
// `dst` (flash → RAM for read-back; the SAM3 ROM returns zeros when flash is
// read directly); `program` writes `pages` EEFC pages from RAM in one call
// (wait FRDY, fill the latch, write FCR, next page), stopping at the first
// error bit, so the host pays one round trip per batch, not per page.

/** The code (Thumb halfwords, little-endian), offsets 0x00–0x53. */
const CODE: readonly number[] = [
  0xa314, 0xcb07, 0x2a00, 0xd003, 0xc908, 0xc008, 0x3a01, 0xd1fb, 0x4770, 0xa310, 0xcb03, 0x4b12,
  0x685a, 0x2a01, 0xd002, 0x2a00, 0xd0fa, 0xe013, 0x4a0d, 0xc908, 0xc008, 0x3a01, 0xd1fb, 0x4b0c,
  0x4a0c, 0x601a, 0x3280, 0x3280, 0xa30a, 0x601a, 0x685a, 0x3a01, 0x605a, 0xd1e8, 0x4b06, 0x685a,
  0x2a00, 0xd0fc, 0xa307, 0x601a, 0x4770, 0x46c0,
];

/** Offsets inside the applet. */
export const AppletLayout = {
  COPY_ENTRY: 0x00,
  PROGRAM_ENTRY: 0x12,
  DST: 0x54,
  SRC: 0x58,
  WORDS: 0x5c,
  FCR: 0x60,
  FCR_VALUE: 0x64,
  PAGES: 0x68,
  RESULT: 0x6c,
  /** The two-word vector `G` is pointed at: SP, then the entry + 1. */
  VECTOR: 0x70,
  ENTRY: 0x74,
  SIZE: 0x78,
} as const;

/** `result` after a `program` call in which every page was written. */
export const PROGRAM_OK = 1;

/** The applet image to upload (code, then zeroed slots). */
export function appletImage(): Uint8Array {
  const out = new Uint8Array(AppletLayout.SIZE);
  CODE.forEach((hw, i) => {
    out[2 * i] = hw & 0xff;
    out[2 * i + 1] = hw >>> 8;
  });
  return out;
}

/** First RAM byte after the applet for page buffers, word aligned (Cortex-M0+ faults on unaligned words). */
export const bufferStart = (appletAddr: number): number =>
  (appletAddr + AppletLayout.SIZE + 0x3f) & ~0x3f;
