// The one in-memory model of a firmware image, whatever file it came from:
// sorted, non-overlapping, merged segments of bytes at flash addresses, plus
// the helpers the planner needs (extent, size, flatten with a fill byte, range
// checks, and a uniform-content check for the pre-flight layer).

import {
  EmptyImageError,
  ImageOutOfRangeError,
  ImageTooLargeError,
  hex,
  type ImageFormat,
} from "./errors.js";

/** One run of contiguous bytes at a flash (load) address. */
export interface ImageSegment {
  /** Byte address of data[0]; 0 <= address and address + data.length <= 2^32. */
  readonly address: number;
  readonly data: Uint8Array;
}

export interface FirmwareImage {
  readonly format: ImageFormat;
  /** File name or label, used in error messages. */
  readonly source: string;
  /**
   * Sorted by address, non-overlapping, adjacent ones merged, none empty. The
   * loaders always return at least one segment.
   */
  readonly segments: readonly ImageSegment[];
  /** ELF e_entry, or the Intel HEX start address (type 03: CS*16+IP, type 05: EIP) when present. */
  readonly entry?: number;
  /** UF2 familyID when the blocks carry one (flag 0x2000). */
  readonly uf2FamilyId?: number;
}

/** Addresses are 32-bit: every byte lies below this. */
export const ADDRESS_SPACE_END = 2 ** 32;
/** Largest distance from the first to one past the last byte of a loaded image (512 MiB). */
export const MAX_IMAGE_SPAN = 512 * 1024 * 1024;
/** Most segments (after merging adjacent ones) a loaded image may have. */
export const MAX_IMAGE_SEGMENTS = 4096;
/** Largest file loadImage reads (256 MiB). */
export const MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024;

function firstSegment(image: FirmwareImage): ImageSegment {
  const s = image.segments[0];
  if (!s) throw new EmptyImageError(image.source, image.format, "the image has no segments");
  return s;
}

/** Address of the first byte. Throws EmptyImageError for an image without segments. */
export function imageStart(image: FirmwareImage): number {
  return firstSegment(image).address;
}

/** One past the address of the last byte. Throws EmptyImageError for an image without segments. */
export function imageEnd(image: FirmwareImage): number {
  firstSegment(image);
  const last = image.segments[image.segments.length - 1]!;
  return last.address + last.data.length;
}

/** Number of data bytes in the image (gaps not counted). */
export function imageDataSize(image: FirmwareImage): number {
  let n = 0;
  for (const s of image.segments) n += s.data.length;
  return n;
}

export interface FlattenOptions {
  /** First address of the output; default the image start. May lie below it (leading fill). */
  start?: number;
  /** One past the last address of the output; default the image end. May lie past it (trailing fill). */
  end?: number;
  /** Byte written into gaps and padding; default 0xff (erased flash). */
  fill?: number;
}

/**
 * The bytes from `start` to `end` as one contiguous array, gaps and padding
 * set to `fill`. Throws ImageOutOfRangeError if any image byte lies outside
 * [start, end) (firmware is never silently cut) or the range is invalid, and
 * ImageTooLargeError if the range exceeds MAX_IMAGE_SPAN.
 */
export function flattenImage(image: FirmwareImage, options: FlattenOptions = {}): Uint8Array {
  const start = options.start ?? imageStart(image);
  const end = options.end ?? imageEnd(image);
  const fill = options.fill ?? 0xff;
  if (!Number.isInteger(fill) || fill < 0 || fill > 0xff) {
    throw new ImageOutOfRangeError({
      source: image.source,
      format: image.format,
      start,
      end,
      rangeStart: start,
      rangeEnd: end,
      detail: `${image.source}: fill byte ${fill} is not a byte (0..255)`,
    });
  }
  checkRange(image, start, end);
  if (end - start > MAX_IMAGE_SPAN) {
    throw new ImageTooLargeError(image.source, image.format, "span", end - start, MAX_IMAGE_SPAN);
  }
  assertImageWithin(image, start, end);
  const out = new Uint8Array(end - start).fill(fill);
  for (const s of image.segments) out.set(s.data, s.address - start);
  return out;
}

function checkRange(image: FirmwareImage, start: number, end: number): void {
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(end) ||
    start < 0 ||
    end > ADDRESS_SPACE_END ||
    end < start
  ) {
    throw new ImageOutOfRangeError({
      source: image.source,
      format: image.format,
      start,
      end,
      rangeStart: 0,
      rangeEnd: ADDRESS_SPACE_END,
      detail:
        `${image.source}: ${start}..${end} is not a valid address range ` +
        `(integers with 0 <= start <= end <= ${hex(ADDRESS_SPACE_END)})`,
    });
  }
}

/** True if every byte of the (non-empty) image lies in [start, end). */
export function isImageWithin(image: FirmwareImage, start: number, end: number): boolean {
  if (image.segments.length === 0) return false;
  return imageStart(image) >= start && imageEnd(image) <= end;
}

/**
 * Throws ImageOutOfRangeError unless every byte lies in [start, end), e.g. the
 * target's application area from its start address to the end of flash.
 * Throws EmptyImageError for an image without segments.
 */
export function assertImageWithin(image: FirmwareImage, start: number, end: number): void {
  const lo = imageStart(image);
  const hi = imageEnd(image);
  if (lo < start || hi > end) {
    throw new ImageOutOfRangeError({
      source: image.source,
      format: image.format,
      start: lo,
      end: hi,
      rangeStart: start,
      rangeEnd: end,
    });
  }
}

/**
 * The byte value if every data byte of the image is the same (e.g. 0xff for an
 * image of erased flash, 0x00 for a zeroed file), otherwise undefined. The
 * loaders accept such images; the pre-flight layer uses this to warn or refuse.
 */
export function uniformImageByte(image: FirmwareImage): number | undefined {
  let value: number | undefined;
  for (const s of image.segments) {
    for (const b of s.data) {
      if (value === undefined) value = b;
      else if (b !== value) return undefined;
    }
  }
  return value;
}
