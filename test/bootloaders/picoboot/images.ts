// RP2040 test images: a "No bootloader" build (boot2 with its CRC, then the
// vector table at 0x10000100) and a build for Katapult's 16 KiB offset (the
// vector table at its start).
import { BOOT2_SIZE, crc32Mpeg2 } from "../../../src/bootloaders/picoboot/codec.js";
import { randomBytes } from "../../../src/util/random.js";

function vectors(into: Uint8Array, at: number, linkedAt: number): void {
  const v = new DataView(into.buffer, into.byteOffset + at, 8);
  v.setUint32(0, 0x2004_2000, true); // initial SP: top of SRAM
  v.setUint32(4, (linkedAt + 0xc1) | 1, true); // a Thumb reset handler inside the image
}

/** Linked for 0x10000000: boot2 (CRC-32/MPEG-2 in its last word), vectors after it. */
export function rp2040Image(size: number, seed: number): Uint8Array {
  const img = randomBytes(size, seed);
  new DataView(img.buffer).setUint32(252, crc32Mpeg2(img.subarray(0, 252)), true);
  vectors(img, BOOT2_SIZE, 0x1000_0000 + BOOT2_SIZE);
  return img;
}

/** Linked for 0x10004000 (above Katapult): vectors at the start, no boot2. */
export function katapultOffsetImage(size: number, seed: number): Uint8Array {
  const img = randomBytes(size, seed);
  vectors(img, 0, 0x1000_4000);
  return img;
}
