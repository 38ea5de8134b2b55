// Entry points that pick the right reader: parseImage over bytes (pure) and
// loadImage over a file path (reads at most MAX_IMAGE_FILE_BYTES, then parses).

import { open } from "node:fs/promises";
import { throwIfAborted } from "../../util/errors.js";
import { parseBin } from "./bin.js";
import { detectImageFormat, formatName, sniffImageFormat } from "./detect.js";
import { parseElf } from "./elf.js";
import {
  EmptyImageError,
  ImageError,
  ImageFormatError,
  ImageReadError,
  ImageTooLargeError,
  type ImageFormat,
} from "./errors.js";
import { parseIntelHex } from "./ihex.js";
import { MAX_IMAGE_FILE_BYTES, type FirmwareImage } from "./model.js";
import { parseUf2 } from "./uf2.js";

export interface ImageLoadOptions {
  /**
   * Read as this format instead of detecting it. "bin" still refuses content
   * that is plainly ELF, UF2 or Intel HEX, since flashing those raw is never right.
   */
  format?: ImageFormat;
  /** Flash address of a raw .bin (the target's application start). The other formats carry their own addresses and ignore it. */
  base?: number;
  /** Name used in messages and FirmwareImage.source; default the path, or "firmware". */
  source?: string;
}

/**
 * Turns file contents into a FirmwareImage: the given format, or the detected
 * one (see detect.ts). Throws only ImageError subclasses.
 */
export function parseImage(bytes: Uint8Array, options: ImageLoadOptions = {}): FirmwareImage {
  const source = options.source ?? "firmware";
  if (bytes.length === 0) {
    throw new EmptyImageError(source, options.format, "the file is 0 bytes");
  }
  const format = options.format ?? detectImageFormat(bytes, source);
  switch (format) {
    case "bin": {
      const actual = sniffImageFormat(bytes);
      if (actual) {
        throw new ImageFormatError(
          source,
          "bin",
          { offset: 0 },
          `the file is ${formatName(actual)}, not a raw binary`,
          `Load it as ${actual} (or let canflash detect the format)`,
        );
      }
      return parseBin(bytes, {
        source,
        ...(options.base === undefined ? {} : { base: options.base }),
      });
    }
    case "ihex":
      return parseIntelHex(bytes, source);
    case "elf":
      return parseElf(bytes, source);
    case "uf2":
      return parseUf2(bytes, source);
  }
}

/**
 * Reads the file at `path` and parses it with parseImage. Throws
 * ImageReadError when it cannot be read, ImageTooLargeError past
 * MAX_IMAGE_FILE_BYTES, AbortedError when `signal` fires, and whatever
 * parseImage throws.
 */
export async function loadImage(
  path: string,
  options: ImageLoadOptions & { signal?: AbortSignal } = {},
): Promise<FirmwareImage> {
  const source = options.source ?? path;
  const bytes = await readBounded(path, source, options.signal);
  return parseImage(bytes, { ...options, source });
}

async function readBounded(
  path: string,
  source: string,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  const operation = `reading ${source}`;
  throwIfAborted(signal, operation);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let file;
  try {
    file = await open(path, "r");
  } catch (err) {
    throw readError(source, err);
  }
  try {
    for (;;) {
      throwIfAborted(signal, operation);
      const chunk = new Uint8Array(1 << 20);
      let n: number;
      try {
        ({ bytesRead: n } = await file.read(chunk, 0, chunk.length, null));
      } catch (err) {
        throw readError(source, err);
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_IMAGE_FILE_BYTES) {
        throw new ImageTooLargeError(source, undefined, "file-size", total, MAX_IMAGE_FILE_BYTES);
      }
      chunks.push(chunk.subarray(0, n));
    }
  } finally {
    await file.close();
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function readError(source: string, err: unknown): ImageError {
  const code = (err as { code?: unknown } | null)?.code;
  return new ImageReadError(source, typeof code === "string" ? code : undefined, err);
}
