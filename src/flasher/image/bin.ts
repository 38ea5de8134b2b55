// Raw binary reader (out/klipper.bin): the bytes as they go to flash, with no
// addresses of their own. The caller supplies the base address, which is the
// target's application start (e.g. 0x8002000 behind an 8 KiB Katapult).

import {
  EmptyImageError,
  ImageOutOfRangeError,
  ImageTooLargeError,
  MissingBaseAddressError,
  hex,
} from "./errors.js";
import { ADDRESS_SPACE_END, MAX_IMAGE_SPAN, type FirmwareImage } from "./model.js";

export interface BinOptions {
  /** Flash address of the first byte. Required: a .bin carries no addresses. */
  base?: number;
  /** File name or label for messages; default "firmware.bin". */
  source?: string;
}

/**
 * One segment holding a copy of `bytes` at `base`. Throws
 * MissingBaseAddressError without a base, EmptyImageError for zero bytes,
 * ImageOutOfRangeError if the base is not an integer or the bytes would run
 * past 4 GiB, ImageTooLargeError past MAX_IMAGE_SPAN.
 */
export function parseBin(bytes: Uint8Array, options: BinOptions = {}): FirmwareImage {
  const source = options.source ?? "firmware.bin";
  const base = options.base;
  if (bytes.length === 0) throw new EmptyImageError(source, "bin", "the file is 0 bytes");
  if (base === undefined) throw new MissingBaseAddressError(source);
  if (bytes.length > MAX_IMAGE_SPAN) {
    throw new ImageTooLargeError(source, "bin", "span", bytes.length, MAX_IMAGE_SPAN);
  }
  if (!Number.isInteger(base) || base < 0 || base + bytes.length > ADDRESS_SPACE_END) {
    throw new ImageOutOfRangeError({
      source: source,
      format: "bin",
      start: base,
      end: base + bytes.length,
      rangeStart: 0,
      rangeEnd: ADDRESS_SPACE_END,
      detail:
        `${source}: base address ${Number.isInteger(base) ? hex(base) : base} does not place its ` +
        `${bytes.length} bytes inside the 32-bit address space; check the target's start address`,
    });
  }
  return { format: "bin", source, segments: [{ address: base, data: bytes.slice() }] };
}
