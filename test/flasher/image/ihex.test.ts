// Intel HEX: record rules, addressing, the documented decisions (data after
// EOF, segment wrap, duplicate writes, start records) and every malformed case
// named in the brief, each checked for error class, location and fix.
import { describe, expect, it } from "vitest";
import {
  EmptyImageError,
  ImageFormatError,
  ImageTooLargeError,
  OverlappingSegmentsError,
  parseIntelHex,
} from "../../../src/flasher/image/index.js";
import { HEX_EOF, bytes, expectError, fixture, hexRecord, segmentsOf, text } from "./helpers.js";

const parse = (lines: string[] | string) =>
  parseIntelHex(bytes(Array.isArray(lines) ? lines.join("\n") + "\n" : lines), "test.hex");
const golden = text(fixture("avr-blink.hex"));
const goldenLines = golden.trimEnd().split(/\r?\n/); // objcopy writes CRLF
const CORRUPT_FIX = /rebuild the firmware or copy the file again/;

describe("Intel HEX records", () => {
  it("reads data at 16-bit, segment (02) and linear (04) addresses", () => {
    const image = parse([
      hexRecord(0, 0x0100, [1, 2]),
      hexRecord(2, 0, [0x12, 0x34]), // base 0x12340
      hexRecord(0, 0x0010, [3]),
      hexRecord(4, 0, [0x08, 0x00]), // base 0x08000000
      hexRecord(0, 0xfffe, [4, 5, 6, 7]), // linear: runs on into 0x08010000
      HEX_EOF,
    ]);
    expect(segmentsOf(image)).toEqual([
      [0x100, [1, 2]],
      [0x12350, [3]],
      [0x0800fffe, [4, 5, 6, 7]],
    ]);
    expect(image.entry).toBeUndefined();
  });

  it("merges records that continue each other in any order, keeps gaps as segments", () => {
    const image = parse([
      hexRecord(0, 0x10, [2, 2]),
      hexRecord(0, 0x00, Array(16).fill(1)),
      hexRecord(0, 0x40, [9]),
      HEX_EOF,
    ]);
    expect(segmentsOf(image)).toEqual([
      [0, [...Array(16).fill(1), 2, 2]],
      [0x40, [9]],
    ]);
  });

  it("takes the start address from 03 (CS*16+IP) or 05 records", () => {
    const seg = parse([hexRecord(0, 0, [1]), hexRecord(3, 0, [0x12, 0x34, 0x00, 0x05]), HEX_EOF]);
    expect(seg.entry).toBe(0x12345);
    const lin = parse([hexRecord(0, 0, [1]), hexRecord(5, 0, [0x08, 0, 0x01, 0x23]), HEX_EOF]);
    expect(lin.entry).toBe(0x08000123);
    const twice = [
      hexRecord(5, 0, [0, 0, 0, 1]),
      hexRecord(0, 0, [1]),
      hexRecord(5, 0, [0, 0, 0, 1]),
    ];
    expect(parse([...twice, HEX_EOF]).entry).toBe(1);
  });

  it("accepts zero-length data records", () => {
    expect(segmentsOf(parse([hexRecord(0, 0x20, []), hexRecord(0, 0, [7]), HEX_EOF]))).toEqual([
      [0, [7]],
    ]);
  });
});

describe("decisions", () => {
  it("allows whitespace, NUL and Ctrl-Z after the EOF record", () => {
    const image = parse(golden + "\n\n   \r\n\x1a\x00");
    expect(image.segments.length).toBe(2);
  });

  it("refuses anything else after the EOF record, naming the line", () => {
    const joined = golden + golden; // two files joined with cat
    const err = expectError(
      () => parse(joined),
      ImageFormatError,
      `test.hex line ${goldenLines.length + 1}`,
      `after the end-of-file record on line ${goldenLines.length}`,
      /remove the first one's ':00000001FF' line or merge/,
    );
    expect(err.line).toBe(goldenLines.length + 1);
  });

  it("refuses a 16-bit or segment-mode record that would wrap inside its 64 KiB segment", () => {
    expectError(
      () => parse([hexRecord(0, 0xfff8, Array(16).fill(0)), HEX_EOF]),
      ImageFormatError,
      "line 1",
      /runs past the end of its 64 KiB segment/,
      /regenerate the file/,
    );
    expectError(
      () => parse([hexRecord(2, 0, [0x10, 0]), hexRecord(0, 0xfffc, Array(8).fill(0)), HEX_EOF]),
      ImageFormatError,
      "line 2",
    );
  });

  it("refuses two different start addresses", () => {
    expectError(
      () =>
        parse([
          hexRecord(5, 0, [0, 0, 0, 1]),
          hexRecord(0, 0, [1]),
          hexRecord(5, 0, [0, 0, 0, 2]),
          HEX_EOF,
        ]),
      ImageFormatError,
      "line 3",
      /start address 0x2 contradicts 0x1 given on line 1/,
      /Keep one start address record/,
    );
  });
});

describe("malformed Intel HEX", () => {
  it("bad checksum", () => {
    const lines = [...goldenLines];
    lines[2] = lines[2]!.slice(0, -2) + "00";
    const err = expectError(
      () => parse(lines),
      ImageFormatError,
      "test.hex line 3",
      /bad checksum: the record ends in 0x00 but its bytes need 0x04/,
      CORRUPT_FIX,
    );
    expect(err.line).toBe(3);
    expect(err.format).toBe("ihex");
    expect(err.code).toBe("IMAGE_FORMAT");
  });

  it("bad byte count", () => {
    const lines = [...goldenLines];
    lines[1] = ":11" + lines[1]!.slice(3); // says 17 bytes, carries 16
    expectError(
      () => parse(lines),
      ImageFormatError,
      "line 2",
      /bad byte count: the record says 17 data bytes but carries 16\. The file is corrupt/,
      CORRUPT_FIX,
    );
    lines[1] = ":0F" + goldenLines[1]!.slice(3);
    expectError(
      () => parse(lines),
      ImageFormatError,
      "line 2",
      /says 15 data bytes but carries 16/,
    );
  });

  it("truncated: no EOF record", () => {
    const err = expectError(
      () => parse(goldenLines.slice(0, -1)),
      ImageFormatError,
      `line ${goldenLines.length - 1}`,
      /truncated: the file ends without an end-of-file record \(:00000001FF\)/,
      /cut short/,
    );
    expect(err.line).toBe(goldenLines.length - 1);
  });

  it("truncated: cut in the middle of a record", () => {
    const cut = golden.indexOf("\n", 200) + 22; // ":" and 20 digits into the next line
    const line = golden.slice(0, cut).split("\n").length;
    expectError(
      () => parse(golden.slice(0, cut)),
      ImageFormatError,
      `line ${line}`,
      /truncated: the file ends inside this record \(bad byte count: the record says 16 data bytes but carries 5\)/,
      /cut short/,
    );
    expectError(
      () => parse(golden.slice(0, cut - 1)),
      ImageFormatError,
      `line ${line}`,
      /truncated: the file ends inside this record \(odd number of hex digits/,
    );
    expectError(
      () => parse(":1000\n"),
      ImageFormatError,
      "line 1: record is only 4 hex digits; the shortest record has 10. The file is corrupt",
    );
    expectError(() => parse(":1000"), ImageFormatError, "line 1: truncated: the file ends inside");
  });

  it("overlapping data names both lines", () => {
    const again = hexRecord(0, 0x0014, [0x0c, 0x94]);
    const lines = [...goldenLines.slice(0, -1), hexRecord(2, 0, [0, 0]), again, HEX_EOF];
    const err = expectError(
      () => parse(lines),
      OverlappingSegmentsError,
      /address 0x14 is written twice, by line 2 and by line \d+/,
      /give each address once/,
    );
    expect(err.address).toBe(0x14);
    expect(err.first).toEqual({ line: 2 });
    expect(err.second).toEqual({ line: lines.length - 1 });
    // equal bytes are still an overlap
    expectError(
      () => parse([hexRecord(0, 0, [1, 2, 3]), hexRecord(0, 2, [3]), HEX_EOF]),
      OverlappingSegmentsError,
      "address 0x2 is written twice, by line 1 and by line 2",
    );
  });

  it("unknown record type", () => {
    expectError(
      () => parse([hexRecord(0, 0, [1]), hexRecord(6, 0, [1, 2]), HEX_EOF]),
      ImageFormatError,
      "line 2",
      /unknown record type 0x06; Intel HEX has types 00 to 05/,
      /rebuild it with objcopy -O ihex/,
    );
  });

  it("wrong length for address and EOF records", () => {
    expectError(
      () => parse([hexRecord(4, 0, [8]), HEX_EOF]),
      ImageFormatError,
      /extended linear address record \(type 04\) must carry 2 bytes, not 1/,
    );
    expectError(() => parse([hexRecord(2, 0, [1, 2, 3]), HEX_EOF]), ImageFormatError, /type 02/);
    expectError(
      () => parse([hexRecord(5, 0, [1]), HEX_EOF]),
      ImageFormatError,
      /type 05\) must carry 4/,
    );
    expectError(
      () => parse([hexRecord(0, 0, [1]), hexRecord(1, 0, [0])]),
      ImageFormatError,
      /end-of-file record \(type 01\) must carry 0/,
    );
  });

  it("a line that is not a record, and a non-hex character", () => {
    expectError(
      () => parse([hexRecord(0, 0, [1]), "# comment", HEX_EOF]),
      ImageFormatError,
      "line 2",
      /expected a record starting with ':' but found '#'/,
      /remove the line/,
    );
    expectError(
      () => parse([":10000000ZZ"]),
      ImageFormatError,
      "line 1",
      /'Z' at column 10 is not a hex digit/,
    );
  });

  it("data past 4 GiB", () => {
    expectError(
      () => parse([hexRecord(4, 0, [0xff, 0xff]), hexRecord(0, 0xfffc, Array(8).fill(1)), HEX_EOF]),
      ImageFormatError,
      "line 2",
      /data at 0xfffffffc runs past the 4 GiB address space/,
    );
  });

  it("no data records, or no records at all", () => {
    expectError(
      () => parse([HEX_EOF]),
      EmptyImageError,
      /test.hex is empty: nothing to flash \(the Intel HEX file has no data records\)/,
    );
    expectError(
      () => parse([hexRecord(4, 0, [8, 0]), HEX_EOF]),
      EmptyImageError,
      /no data records/,
    );
    expectError(() => parse("\n  \n"), EmptyImageError, /no Intel HEX records/);
  });

  it("address span and segment count limits", () => {
    const far = [hexRecord(0, 0, [1]), hexRecord(4, 0, [0x40, 0]), hexRecord(0, 0, [2]), HEX_EOF];
    const err = expectError(
      () => parse(far),
      ImageTooLargeError,
      /spans 0x40000001 bytes/,
      /not a micro-controller firmware/,
    );
    expect(err.limit).toBe("span");
    const sparse: string[] = [];
    for (let i = 0; i < 5000; i++) {
      if (i % 4096 === 0) sparse.push(hexRecord(4, 0, [0, i >> 12]));
      sparse.push(hexRecord(0, (i % 4096) * 16, [i & 0xff]));
    }
    const many = expectError(
      () => parse([...sparse, HEX_EOF]),
      ImageTooLargeError,
      /5000 separate segments/,
    );
    expect(many.limit).toBe("segments");
  });
});

describe("out-of-order input", () => {
  it("merges a HEX written backwards into one segment", () => {
    const lines = [hexRecord(4, 0, [0, 1])];
    for (let i = 4095; i >= 0; i--) lines.push(hexRecord(0, i * 16, Array(16).fill(i & 0xff)));
    const image = parse([...lines, HEX_EOF]);
    expect(image.segments.length).toBe(1);
    expect(image.segments[0]!.address).toBe(0x10000);
    expect(image.segments[0]!.data.length).toBe(65536);
    expect(image.segments[0]!.data[16 * 300]).toBe(300 & 0xff);
  });
});
