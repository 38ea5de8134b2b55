// The optional DFU file suffix (USB DFU 1.1 appendix B; dfu.md §4): the
// last 16 bytes of a .dfu file — bcdDevice, idProduct, idVendor, bcdDFU,
// "UFD", length 16, CRC — never sent to the device. Checked before any
// device is opened: a CRC that does not match, or ids that are not the
// board's, refuse the file. Pure.

import { CanflashError } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    DFU_SUFFIX: true;
  }
}

export const DFU_SUFFIX_LENGTH = 16;

export interface DfuSuffix {
  bcdDevice: number;
  productId: number;
  vendorId: number;
  bcdDFU: number;
  crc: number;
  /** The CRC over the file except its last 4 bytes. */
  crcComputed: number;
}

/** dfu-util's CRC: reflected CRC-32 (0xEDB88320), initial 0xFFFFFFFF, no final XOR. */
export function dfuCrc(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of data) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return crc >>> 0;
}

/** The suffix, when the file ends with one ("UFD", length ≥ 16); undefined for a raw image. */
export function readDfuSuffix(file: Uint8Array): DfuSuffix | undefined {
  if (file.length <= DFU_SUFFIX_LENGTH) return undefined;
  const s = file.subarray(file.length - DFU_SUFFIX_LENGTH);
  if (s[8] !== 0x55 || s[9] !== 0x46 || s[10] !== 0x44 || s[11] !== DFU_SUFFIX_LENGTH)
    return undefined;
  const u16 = (o: number) => s[o]! | (s[o + 1]! << 8);
  return {
    bcdDevice: u16(0),
    productId: u16(2),
    vendorId: u16(4),
    bcdDFU: u16(6),
    crc: (s[12]! | (s[13]! << 8) | (s[14]! << 16) | (s[15]! << 24)) >>> 0,
    crcComputed: dfuCrc(file.subarray(0, file.length - 4)),
  };
}

/** Appends a suffix (dfu-suffix -a does the same; tests and a user's own .dfu files). */
export function withDfuSuffix(
  image: Uint8Array,
  ids: { vendorId: number; productId: number; bcdDevice?: number; bcdDFU?: number },
): Uint8Array {
  const out = new Uint8Array(image.length + DFU_SUFFIX_LENGTH);
  out.set(image);
  const s = out.subarray(image.length);
  const put16 = (o: number, v: number) => {
    s[o] = v & 0xff;
    s[o + 1] = (v >> 8) & 0xff;
  };
  put16(0, ids.bcdDevice ?? 0xffff);
  put16(2, ids.productId);
  put16(4, ids.vendorId);
  put16(6, ids.bcdDFU ?? 0x0100);
  s.set([0x55, 0x46, 0x44, DFU_SUFFIX_LENGTH], 8); // "UFD"
  const crc = dfuCrc(out.subarray(0, out.length - 4));
  s.set([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24], 12);
  return out;
}

/** A .dfu file that is damaged or made for another device. */
export class DfuSuffixError extends CanflashError {
  constructor(
    readonly file: string,
    readonly problem: "crc" | "ids",
    /** "0483:df11" as the suffix says. */
    readonly fileIds: string,
    /** The board's USB ids. */
    readonly boardIds: readonly string[],
  ) {
    super(
      "DFU_SUFFIX",
      problem === "crc"
        ? `${file}: the DFU suffix's CRC does not match the file (damaged or truncated)`
        : `${file}: its DFU suffix says it is for USB device ${fileIds}, not this board (${boardIds.join(", ")})`,
    );
  }
}

const hex4 = (n: number) => n.toString(16).padStart(4, "0");

/** Refuses a damaged suffix, or one whose ids (0xffff = any) match none of `usbIds`. */
export function checkDfuSuffix(file: string, s: DfuSuffix, usbIds: readonly string[]): void {
  const fileIds = `${hex4(s.vendorId)}:${hex4(s.productId)}`;
  if (s.crc !== s.crcComputed) throw new DfuSuffixError(file, "crc", fileIds, usbIds);
  const fits = usbIds.some((id) => {
    const [v, p] = id.split(":").map((x) => parseInt(x, 16));
    return (
      (s.vendorId === 0xffff || s.vendorId === v) && (s.productId === 0xffff || s.productId === p)
    );
  });
  if (!fits) throw new DfuSuffixError(file, "ids", fileIds, usbIds);
}
