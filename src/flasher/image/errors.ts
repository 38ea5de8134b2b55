// Typed errors of the firmware image loaders. Every failure to turn a file into
// a FirmwareImage is an ImageError: the loaders throw nothing else. Each error
// keeps its facts as fields (file, line/offset/block, addresses) and a message
// that says what is wrong, where, and what to do about it.

import { CanflashError, type ErrorCode } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    IMAGE_EMPTY: true;
    IMAGE_FORMAT: true;
    IMAGE_NEEDS_BASE: true;
    IMAGE_NOT_FIRMWARE: true;
    IMAGE_OUT_OF_RANGE: true;
    IMAGE_OVERLAP: true;
    IMAGE_READ: true;
    IMAGE_TOO_LARGE: true;
    IMAGE_UNSUPPORTED: true;
  }
}

/** The image formats canflash reads. */
export type ImageFormat = "bin" | "ihex" | "elf" | "uf2";

/** Where in a file a problem is. Fields that do not apply are absent. */
export interface ImageLocation {
  /** 1-based text line (Intel HEX). */
  readonly line?: number;
  /** Byte offset from the start of the file. */
  readonly offset?: number;
  /** 0-based position of a 512-byte UF2 block in the file. */
  readonly block?: number;
  /** 0-based index of an ELF program header. */
  readonly programHeader?: number;
}

/** "line 12", "block 3 (offset 0x600)", "program header 1 (offset 0x54)", "offset 0x10". */
export function describeLocation(where: ImageLocation): string {
  const at = where.offset === undefined ? "" : `offset ${hex(where.offset)}`;
  if (where.line !== undefined) return `line ${where.line}`;
  if (where.block !== undefined) return `block ${where.block}${at ? ` (${at})` : ""}`;
  if (where.programHeader !== undefined)
    return `program header ${where.programHeader}${at ? ` (${at})` : ""}`;
  return at || "start of file";
}

/** `0x`-prefixed lowercase hex, for messages. */
export function hex(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

/** The base of every image-loading failure. */
export class ImageError extends CanflashError {
  constructor(
    code: ErrorCode,
    /** File name or label the image came from. */
    readonly source: string,
    /** The format being read, when known. */
    readonly format: ImageFormat | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The file breaks the rules of its format: bad checksum, bad length, bad magic, truncation. */
export class ImageFormatError extends ImageError {
  readonly line?: number;
  readonly offset?: number;
  readonly block?: number;
  readonly programHeader?: number;

  constructor(
    source: string,
    format: ImageFormat,
    /** Where the problem is. */
    readonly location: ImageLocation,
    /** What is wrong, e.g. "checksum is 0x3c but the record needs 0x3d". */
    readonly problem: string,
    /** What the user can do, e.g. "rebuild the firmware or copy the file again". */
    readonly fix: string,
  ) {
    super(
      "IMAGE_FORMAT",
      source,
      format,
      `${source} ${describeLocation(location)}: ${problem}. ${fix}`,
    );
    if (location.line !== undefined) this.line = location.line;
    if (location.offset !== undefined) this.offset = location.offset;
    if (location.block !== undefined) this.block = location.block;
    if (location.programHeader !== undefined) this.programHeader = location.programHeader;
  }
}

/** The file holds nothing to flash: zero bytes, or a valid file without data. */
export class EmptyImageError extends ImageError {
  constructor(
    source: string,
    format: ImageFormat | undefined,
    /** Why it is empty, e.g. "the file is 0 bytes" or "no data records". */
    readonly reason: string,
  ) {
    super("IMAGE_EMPTY", source, format, `${source} is empty: nothing to flash (${reason})`);
  }
}

/** What a non-firmware input looked like. */
export type NotFirmwareKind =
  "text" | "json" | "html" | "archive" | "object-file" | "core-dump" | "no-loadable-segments";

/** The input is something other than a firmware image: a README, JSON, a web page, a .o. */
export class NotFirmwareError extends ImageError {
  constructor(
    source: string,
    format: ImageFormat | undefined,
    readonly kind: NotFirmwareKind,
    /** What it looks like and what to pass instead. */
    readonly detail: string,
  ) {
    super("IMAGE_NOT_FIRMWARE", source, format, `${source} is not a firmware image: ${detail}`);
  }
}

/** A valid file using a feature canflash does not read (big-endian ELF, S-records, UF2 file containers). */
export class UnsupportedImageError extends ImageError {
  constructor(
    source: string,
    format: ImageFormat | undefined,
    /** The unsupported feature, e.g. "big-endian ELF". */
    readonly feature: string,
    readonly fix: string,
  ) {
    super("IMAGE_UNSUPPORTED", source, format, `${source}: ${feature} is not supported. ${fix}`);
  }
}

/** Two parts of the file write the same flash address. */
export class OverlappingSegmentsError extends ImageError {
  constructor(
    source: string,
    format: ImageFormat,
    /** The first address written twice. */
    readonly address: number,
    /** The earlier writer in file order. */
    readonly first: ImageLocation,
    /** The later writer in file order. */
    readonly second: ImageLocation,
  ) {
    super(
      "IMAGE_OVERLAP",
      source,
      format,
      `${source}: address ${hex(address)} is written twice, by ${describeLocation(first)} ` +
        `and by ${describeLocation(second)}. A firmware image must give each address once; ` +
        `rebuild it, or if it was made by joining files, merge them with a tool that checks overlaps`,
    );
  }
}

/** What exceeded a loader limit. */
export type ImageLimit = "span" | "segments" | "file-size";

/** The image is too big or too fragmented to be a micro-controller firmware. */
export class ImageTooLargeError extends ImageError {
  constructor(
    source: string,
    format: ImageFormat | undefined,
    readonly limit: ImageLimit,
    /** Bytes for "span" and "file-size", a count for "segments". */
    readonly actual: number,
    readonly maximum: number,
  ) {
    const what =
      limit === "span"
        ? `its data spans ${hex(actual)} bytes of address space`
        : limit === "segments"
          ? `it has ${actual} separate segments`
          : `the file is ${actual} bytes`;
    super(
      "IMAGE_TOO_LARGE",
      source,
      format,
      `${source}: ${what}, more than the ${limit === "segments" ? maximum : hex(maximum)} ` +
        `canflash accepts; this is not a micro-controller firmware (wrong file, or addresses corrupt)`,
    );
  }
}

/** A raw .bin was given without the address it belongs at. */
export class MissingBaseAddressError extends ImageError {
  constructor(source: string) {
    super(
      "IMAGE_NEEDS_BASE",
      source,
      "bin",
      `${source}: a .bin holds raw bytes without addresses, so it needs the target's ` +
        `application start address (e.g. 0x8002000 behind an 8 KiB Katapult on STM32F103); ` +
        `choose a target or give the base address`,
    );
  }
}

/** The image does not fit the address range it must lie in. */
export interface OutOfRange {
  source: string;
  format: ImageFormat | undefined;
  /** First byte of the image (or of the requested placement). */
  start: number;
  /** One past the last byte. */
  end: number;
  rangeStart: number;
  /** Exclusive. */
  rangeEnd: number;
  /** The message, when the default wording does not fit. */
  detail?: string;
}

export class ImageOutOfRangeError extends ImageError {
  readonly start: number;
  readonly end: number;
  readonly rangeStart: number;
  readonly rangeEnd: number;

  constructor(f: OutOfRange) {
    super(
      "IMAGE_OUT_OF_RANGE",
      f.source,
      f.format,
      f.detail ??
        `${f.source}: image covers ${hex(f.start)}..${hex(f.end)} (end exclusive), outside the allowed ` +
          `${hex(f.rangeStart)}..${hex(f.rangeEnd)}; check the target and the image's start address`,
    );
    this.start = f.start;
    this.end = f.end;
    this.rangeStart = f.rangeStart;
    this.rangeEnd = f.rangeEnd;
  }
}

/** The file could not be read (missing, a directory, no permission). */
export class ImageReadError extends ImageError {
  constructor(
    source: string,
    /** The system error code, e.g. "ENOENT", when there is one. */
    readonly errno: string | undefined,
    cause: unknown,
  ) {
    const why =
      errno === "ENOENT"
        ? "no such file"
        : errno === "EISDIR"
          ? "it is a directory, not a firmware file"
          : errno === "EACCES"
            ? "permission denied"
            : cause instanceof Error
              ? cause.message
              : String(cause);
    super("IMAGE_READ", source, undefined, `cannot read ${source}: ${why}`, { cause });
  }
}
