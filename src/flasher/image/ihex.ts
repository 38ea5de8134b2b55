// Intel HEX reader (what AVR builds flash: out/klipper.elf.hex). Record types
// 00 data, 01 end of file, 02 extended segment address, 03 start segment
// address, 04 extended linear address, 05 start linear address. Every record's
// byte count and checksum are verified; CRLF, LF and CR line ends, blank lines,
// surrounding whitespace and lowercase digits are accepted.
//
// Decisions (see test/flasher/image/ihex.test.ts):
// - After the EOF record only whitespace, NUL and Ctrl-Z (0x1A, DOS end of
//   file) may follow; anything else is an error, because silently dropping the
//   rest of the file (e.g. two HEX files joined with cat) would flash half a
//   firmware.
// - In 16-bit and segment (02) addressing a data record may not run past the
//   end of its 64 KiB segment: the format says such bytes wrap to the segment
//   start, which no producer means. After an 04 record addresses are linear.
// - Writing an address twice is an error naming both lines, even with equal data.
// - Two start records with different values are an error.

import {
  EmptyImageError,
  ImageFormatError,
  OverlappingSegmentsError,
  hex,
  type ImageLocation,
} from "./errors.js";
import { ADDRESS_SPACE_END, type FirmwareImage } from "./model.js";
import { SegmentBuilder } from "./segments.js";

const CORRUPT = "The file is corrupt: rebuild the firmware or copy the file again";
const CUT = "The file was cut short: rebuild the firmware or copy the file again";

type DataVisitor = (line: number, address: number, data: Uint8Array) => void;

interface HexSummary {
  entry: number | undefined;
}

/**
 * Reads an Intel HEX file. Throws ImageFormatError (naming the line, what is
 * wrong and how to fix it), EmptyImageError when there are no data bytes,
 * OverlappingSegmentsError naming both lines, ImageTooLargeError past the limits.
 */
export function parseIntelHex(bytes: Uint8Array, source = "firmware.hex"): FirmwareImage {
  const builder = new SegmentBuilder(source, "ihex", bytes.length >>> 1);
  const { entry } = scanHex(bytes, source, (_line, address, data) => builder.add(address, data));
  if (builder.size === 0) {
    throw new EmptyImageError(source, "ihex", "the Intel HEX file has no data records");
  }
  const segments = builder.finish((address) => {
    const lines: number[] = [];
    scanHex(bytes, source, (line, a, data) => {
      if (address >= a && address < a + data.length) lines.push(line);
    });
    throw new OverlappingSegmentsError(
      source,
      "ihex",
      address,
      { line: lines[0] ?? 0 },
      { line: lines[1] ?? 0 },
    );
  });
  return entry === undefined
    ? { format: "ihex", source, segments }
    : { format: "ihex", source, segments, entry };
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0b || b === 0x0c;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

function showChar(b: number): string {
  return b >= 0x21 && b <= 0x7e
    ? `'${String.fromCharCode(b)}'`
    : `byte 0x${b.toString(16).padStart(2, "0")}`;
}

/** Walks every record, calling `visit` for data; returns the start address if any. */
function scanHex(bytes: Uint8Array, source: string, visit: DataVisitor): HexSummary {
  const fail = (where: ImageLocation, problem: string, fix: string): never => {
    throw new ImageFormatError(source, "ihex", where, problem, fix);
  };
  const rec = new Uint8Array(5 + 255);
  let base = 0;
  let linear = false;
  let entry: number | undefined;
  let entryLine = 0;
  let eofLine = 0;
  let lineNo = 0;
  let records = 0;
  let pos = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;

  while (pos < bytes.length) {
    lineNo++;
    let end = pos;
    while (end < bytes.length && bytes[end] !== 0x0a && bytes[end] !== 0x0d) end++;
    const next = bytes[end] === 0x0d && bytes[end + 1] === 0x0a ? end + 2 : end + 1;
    let a = pos;
    let b = end;
    while (a < b && isSpace(bytes[a]!)) a++;
    while (b > a && isSpace(bytes[b - 1]!)) b--;
    pos = next;
    const at = { line: lineNo };

    if (eofLine) {
      for (let i = a; i < b; i++) {
        if (bytes[i] !== 0x00 && bytes[i] !== 0x1a) {
          fail(
            at,
            `there is more after the end-of-file record on line ${eofLine}`,
            "If two HEX files were joined, remove the first one's ':00000001FF' line or merge " +
              "them with a HEX tool; otherwise delete everything after the end-of-file record",
          );
        }
      }
      continue;
    }
    if (a === b) continue;
    if (bytes[a] !== 0x3a) {
      fail(
        at,
        `expected a record starting with ':' but found ${showChar(bytes[a]!)}`,
        lineNo === 1
          ? "This is not an Intel HEX file; pass the firmware's .hex, .elf or .bin"
          : "Intel HEX files hold only ':' records; remove the line or rebuild the file",
      );
    }
    records++;
    const digits = b - a - 1;
    for (let i = a + 1; i < b; i++) {
      if (hexValue(bytes[i]!) < 0) {
        fail(at, `${showChar(bytes[i]!)} at column ${i - a + 1} is not a hex digit`, CORRUPT);
      }
    }
    // A record too short on the file's unterminated last line means the file was cut there.
    const short = (problem: string): never =>
      end >= bytes.length
        ? fail(at, `truncated: the file ends inside this record (${problem})`, CUT)
        : fail(at, problem, CORRUPT);
    if (digits % 2 !== 0) short(`odd number of hex digits (${digits})`);
    if (digits < 10) short(`record is only ${digits} hex digits; the shortest record has 10`);
    const n = digits / 2;
    const count = (hexValue(bytes[a + 1]!) << 4) | hexValue(bytes[a + 2]!);
    const carried = `bad byte count: the record says ${count} data bytes but carries ${n - 5}`;
    if (n < count + 5) short(carried);
    if (n > count + 5) fail(at, carried, CORRUPT);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const v = (hexValue(bytes[a + 1 + 2 * i]!) << 4) | hexValue(bytes[a + 2 + 2 * i]!);
      rec[i] = v;
      sum += v;
    }
    if ((sum & 0xff) !== 0) {
      const want = (rec[n - 1]! - sum) & 0xff;
      fail(
        at,
        `bad checksum: the record ends in 0x${hex2(rec[n - 1]!)} but its bytes need 0x${hex2(want)}`,
        CORRUPT,
      );
    }
    const offset = (rec[1]! << 8) | rec[2]!;
    const type = rec[3]!;
    const data = rec.subarray(4, 4 + count);
    const needLength = (want: number, what: string) => {
      if (count !== want) {
        fail(at, `${what} record (type 0${type}) must carry ${want} bytes, not ${count}`, CORRUPT);
      }
    };
    switch (type) {
      case 0x00: {
        if (count === 0) break;
        if (!linear && offset + count > 0x10000) {
          fail(
            at,
            `data record at offset 0x${offset.toString(16)} runs past the end of its 64 KiB segment`,
            "Intel HEX would wrap these bytes to the segment start, which is never meant; " +
              "regenerate the file (e.g. objcopy -O ihex)",
          );
        }
        const address = base + offset;
        if (address + count > ADDRESS_SPACE_END) {
          fail(at, `data at ${hex(address)} runs past the 4 GiB address space`, CORRUPT);
        }
        visit(lineNo, address, data);
        break;
      }
      case 0x01:
        needLength(0, "end-of-file");
        eofLine = lineNo;
        break;
      case 0x02:
        needLength(2, "extended segment address");
        base = ((data[0]! << 8) | data[1]!) * 16;
        linear = false;
        break;
      case 0x04:
        needLength(2, "extended linear address");
        base = ((data[0]! << 8) | data[1]!) * 0x10000;
        linear = true;
        break;
      case 0x03:
      case 0x05: {
        needLength(4, type === 3 ? "start segment address" : "start linear address");
        const value =
          type === 3
            ? ((data[0]! << 8) | data[1]!) * 16 + ((data[2]! << 8) | data[3]!)
            : ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
        if (entry !== undefined && entry !== value) {
          fail(
            at,
            `start address ${hex(value)} contradicts ${hex(entry)} given on line ${entryLine}`,
            "Keep one start address record; rebuild the file",
          );
        }
        entry = value;
        entryLine = lineNo;
        break;
      }
      default:
        fail(
          at,
          `unknown record type 0x${hex2(type)}; Intel HEX has types 00 to 05`,
          "The file is corrupt or in another HEX dialect; rebuild it with objcopy -O ihex",
        );
    }
  }
  if (records === 0) {
    throw new EmptyImageError(source, "ihex", "the file holds no Intel HEX records");
  }
  if (!eofLine) {
    fail(
      { line: lineNo },
      "truncated: the file ends without an end-of-file record (:00000001FF)",
      CUT,
    );
  }
  return { entry };
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, "0");
}
