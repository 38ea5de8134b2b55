// Format detection. Content decides: the ELF magic, the UF2 magics, or ASCII
// text whose first non-blank character is ':' (Intel HEX). A file named .bin
// that holds HEX text is therefore read as HEX, which is what it is. When the
// content shows no format, a .hex/.elf/.uf2 name selects that parser (so its
// precise error explains what is wrong) and anything else is a raw .bin.
// Inputs that are clearly not firmware (text, JSON, a web page, archives,
// S-records, DfuSe containers) are refused here with a message saying so.

import {
  EmptyImageError,
  NotFirmwareError,
  UnsupportedImageError,
  type ImageFormat,
  type NotFirmwareKind,
} from "./errors.js";
import { hasElfMagic } from "./elf.js";
import { hasUf2Magic } from "./uf2.js";

const PASS =
  "pass the firmware itself: out/klipper.bin, out/klipper.elf, out/klipper.elf.hex or out/klipper.uf2";
const TEXT_SAMPLE = 4096;

/** Human name of a format, for messages. */
export function formatName(format: ImageFormat): string {
  return { bin: "a raw binary", ihex: "Intel HEX", elf: "ELF", uf2: "UF2" }[format];
}

/** The format a file name suggests: .bin, .hex/.ihex/.ihx, .elf, .uf2; otherwise undefined. */
export function formatFromExtension(name: string): ImageFormat | undefined {
  const m = /\.([a-z0-9]+)$/i.exec(name);
  switch (m?.[1]?.toLowerCase()) {
    case "bin":
      return "bin";
    case "hex":
    case "ihex":
    case "ihx":
      return "ihex";
    case "elf":
      return "elf";
    case "uf2":
      return "uf2";
    default:
      return undefined;
  }
}

function skipBom(bytes: Uint8Array): number {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
}

function firstNonBlank(bytes: Uint8Array): number {
  let i = skipBom(bytes);
  while (i < bytes.length && (bytes[i] === 0x20 || (bytes[i]! >= 0x09 && bytes[i]! <= 0x0d))) i++;
  return i;
}

/**
 * The format the content itself proves, or undefined: ELF magic, UF2 magics,
 * or a first non-blank line that starts with ':' and is printable ASCII.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (hasElfMagic(bytes)) return "elf";
  if (hasUf2Magic(bytes)) return "uf2";
  const i = firstNonBlank(bytes);
  if (bytes[i] !== 0x3a) return undefined;
  for (let j = i + 1; j < bytes.length && j < i + 600; j++) {
    const b = bytes[j]!;
    if (b === 0x0a || b === 0x0d) break;
    if (b < 0x20 || b > 0x7e) {
      if (b !== 0x09) return undefined;
    }
  }
  return "ihex";
}

/** The first TEXT_SAMPLE bytes as a string if they are UTF-8 text without control characters. */
function textSample(bytes: Uint8Array): string | undefined {
  const start = skipBom(bytes);
  const sample = bytes.subarray(start, start + TEXT_SAMPLE);
  for (const b of sample) {
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) return undefined;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(sample, { stream: true });
  } catch {
    return undefined;
  }
}

function startsWith(bytes: Uint8Array, text: string, at = 0): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * Throws if the bytes are clearly not a firmware image: EmptyImageError for
 * zero bytes or only whitespace; NotFirmwareError for text, JSON, HTML/XML,
 * archives and static libraries; UnsupportedImageError for Motorola S-records
 * and DfuSe containers. Returns quietly otherwise.
 */
export function rejectNonFirmware(bytes: Uint8Array, source: string): void {
  if (bytes.length === 0) throw new EmptyImageError(source, undefined, "the file is 0 bytes");
  const notFirmware = (kind: NotFirmwareKind, detail: string): never => {
    throw new NotFirmwareError(source, undefined, kind, `${detail}; ${PASS}`);
  };
  if (startsWith(bytes, "PK\x03\x04")) notFirmware("archive", "it is a zip archive (unpack it)");
  if (startsWith(bytes, "\x1f\x8b")) notFirmware("archive", "it is gzip-compressed (unpack it)");
  if (startsWith(bytes, "\xfd7zXZ\x00")) notFirmware("archive", "it is xz-compressed (unpack it)");
  if (startsWith(bytes, "ustar", 257)) notFirmware("archive", "it is a tar archive (unpack it)");
  if (startsWith(bytes, "!<arch>\n")) {
    notFirmware("object-file", "it is a static library (.a), not a linked firmware");
  }
  if (startsWith(bytes, "DfuSe")) {
    throw new UnsupportedImageError(
      source,
      undefined,
      "a DfuSe (.dfu) container",
      "Pass the plain out/klipper.bin with the target's start address",
    );
  }
  const text = textSample(bytes);
  if (text === undefined) return;
  const body = text.trimStart();
  if (body === "" && bytes.length === firstNonBlank(bytes)) {
    throw new EmptyImageError(source, undefined, "the file holds only whitespace");
  }
  if (/^S[0-9][0-9A-Fa-f]{6}/.test(body)) {
    throw new UnsupportedImageError(
      source,
      undefined,
      "a Motorola S-record file",
      "Convert it (objcopy -I srec -O binary) or pass the build's .bin, .elf or .hex",
    );
  }
  const firstLine = body.split(/\r?\n|\r/, 1)[0]!.slice(0, 40);
  const c = body[0];
  if (c === "{" || c === "[") notFirmware("json", `it is JSON text ("${firstLine}")`);
  if (c === "<") {
    notFirmware(
      "html",
      `it is an HTML/XML page ("${firstLine}"), perhaps a web page saved instead of the download`,
    );
  }
  notFirmware("text", `it is text ("${firstLine}"), e.g. a README or a config file`);
}

/**
 * The format to read `bytes` with. Content wins over the name; a .hex/.elf/.uf2
 * name is used only when the content proves nothing; the rest is "bin". Throws
 * what rejectNonFirmware throws for inputs that are not firmware.
 */
export function detectImageFormat(bytes: Uint8Array, name = "firmware"): ImageFormat {
  const sniffed = sniffImageFormat(bytes);
  if (sniffed) return sniffed;
  rejectNonFirmware(bytes, name);
  const hinted = formatFromExtension(name);
  return hinted ?? "bin";
}
