// UF2: flags, numbering and magic checks, with errors naming block and offset.
import { describe, expect, it } from "vitest";
import {
  EmptyImageError,
  ImageFormatError,
  OverlappingSegmentsError,
  UnsupportedImageError,
  parseUf2,
} from "../../../src/flasher/image/index.js";
import { expectError, fixture, makeUf2, segmentsOf } from "./helpers.js";

const page = (fill: number, n = 256) => new Uint8Array(n).fill(fill);
const CORRUPT = /corrupt: rebuild it or copy it again/;

describe("UF2 blocks", () => {
  it("accepts blocks in any order and merges adjacent payloads", () => {
    const image = parseUf2(
      makeUf2(
        [
          { target: 0x10000100, payload: page(2), blockNo: 1 },
          { target: 0x10000000, payload: page(1), blockNo: 0 },
          { target: 0x10001000, payload: page(3, 16), blockNo: 2 },
        ],
        0xe48bff56,
      ),
    );
    expect(image.uf2FamilyId).toBe(0xe48bff56);
    expect(segmentsOf(image)).toEqual([
      [0x10000000, [...page(1), ...page(2)]],
      [0x10001000, [...page(3, 16)]],
    ]);
  });

  it("skips not-main-flash blocks (flag 0x1) and has no family without flag 0x2000", () => {
    const image = parseUf2(
      makeUf2([
        { target: 0, payload: page(1) },
        { target: 0, payload: page(9), flags: 0x1 },
      ]),
    );
    expect(image.uf2FamilyId).toBeUndefined();
    expect(segmentsOf(image)).toEqual([[0, [...page(1)]]]);
  });

  it("ignores the MD5 (0x4000) and extension-tag (0x8000) flags", () => {
    const image = parseUf2(makeUf2([{ target: 0x4000, payload: page(5), flags: 0xc000 }]));
    expect(segmentsOf(image)).toEqual([[0x4000, [...page(5)]]]);
  });
});

describe("malformed UF2", () => {
  const good = () => fixture("multi.uf2");

  it("bad magic, naming the block and offset", () => {
    for (const [at, name] of [
      [0, "magicStart0"],
      [4, "magicStart1"],
      [508, "magicEnd"],
    ] as const) {
      const bytes = good();
      bytes[512 + at]! ^= 0x40;
      const err = expectError(
        () => parseUf2(bytes, "bad.uf2"),
        ImageFormatError,
        `bad.uf2 block 1 (offset 0x200): ${name} is `,
        CORRUPT,
      );
      expect(err.block).toBe(1);
      expect(err.offset).toBe(512);
    }
    expectError(
      () => parseUf2(new Uint8Array(512).fill(0x41)),
      ImageFormatError,
      "block 0 (offset 0x0): magicStart0 is 0x41414141, expected 0xa324655",
      /This is not a UF2 file/,
    );
  });

  it("payload size over 476", () => {
    const bytes = makeUf2([{ target: 0, payload: page(1), payloadSize: 477 }]);
    expectError(
      () => parseUf2(bytes),
      ImageFormatError,
      "block 0 (offset 0x0)",
      /payloadSize 477 is larger than the 476 bytes/,
    );
  });

  it("truncated file", () => {
    const bytes = good().subarray(0, 700);
    const err = expectError(
      () => parseUf2(bytes),
      ImageFormatError,
      "block 1 (offset 0x200): truncated: the file is 700 bytes, not a whole number of 512-byte blocks",
      /cut short/,
    );
    expect(err.block).toBe(1);
  });

  it("missing, duplicate and out-of-range block numbers", () => {
    expectError(
      () => parseUf2(good().subarray(0, 512)),
      ImageFormatError,
      "block 0 (offset 0x0): numBlocks says the file has 2 blocks but it holds 1",
      /Blocks are missing/,
    );
    const blocks = [
      { target: 0, payload: page(1) },
      { target: 256, payload: page(2), blockNo: 0 },
    ];
    expectError(
      () => parseUf2(makeUf2(blocks)),
      ImageFormatError,
      "block 1 (offset 0x200): blockNo 0 appears twice, first in block 0",
    );
    blocks[1]!.blockNo = 7;
    expectError(
      () => parseUf2(makeUf2(blocks)),
      ImageFormatError,
      "block 1",
      /blockNo 7 is not below numBlocks 2/,
    );
    const mixed = [
      { target: 0, payload: page(1) },
      { target: 256, payload: page(2), numBlocks: 3 },
    ];
    expectError(
      () => parseUf2(makeUf2(mixed)),
      ImageFormatError,
      "block 1",
      /numBlocks is 3 but block 0 says 2/,
    );
    expectError(
      () =>
        parseUf2(
          makeUf2([
            { target: 0, payload: page(1), numBlocks: 1 },
            { target: 256, payload: page(2), numBlocks: 1, blockNo: 0 },
          ]),
        ),
      ImageFormatError,
      /Several UF2 files may have been joined/,
    );
  });

  it("overlapping blocks name both", () => {
    const bytes = makeUf2([
      { target: 0x2000, payload: page(1) },
      { target: 0x3000, payload: page(2) },
      { target: 0x2080, payload: page(3) },
    ]);
    const err = expectError(
      () => parseUf2(bytes),
      OverlappingSegmentsError,
      "address 0x2080 is written twice, by block 0 (offset 0x0) and by block 2 (offset 0x400)",
    );
    expect(err.first).toEqual({ block: 0, offset: 0 });
    expect(err.second).toEqual({ block: 2, offset: 0x400 });
  });

  it("file containers, several families, nothing for main flash, past 4 GiB", () => {
    expectError(
      () => parseUf2(makeUf2([{ target: 0, payload: page(1), flags: 0x1000 }])),
      UnsupportedImageError,
      /a UF2 file container \(flag 0x1000 in block 0\) is not supported/,
      /pass the firmware's own .uf2 or .bin/,
    );
    expectError(
      () =>
        parseUf2(
          makeUf2([
            { target: 0, payload: page(1), familyId: 1 },
            { target: 256, payload: page(1), familyId: 2 },
          ]),
        ),
      UnsupportedImageError,
      /several chip families \(0x1 and 0x2 in block 1\)/,
    );
    expectError(
      () => parseUf2(makeUf2([{ target: 0, payload: page(1), flags: 1 }])),
      EmptyImageError,
      /no block carries data for main flash/,
    );
    expectError(
      () => parseUf2(makeUf2([{ target: 0xffffff80, payload: page(1) }])),
      ImageFormatError,
      /runs past the 4 GiB/,
    );
    expectError(
      () => parseUf2(new Uint8Array(0), "none.uf2"),
      EmptyImageError,
      /none.uf2 is empty: nothing to flash/,
    );
  });
});
