// The image model helpers: extent, size, flatten, range checks, and the
// uniform-content check that the pre-flight layer uses for all-0xFF/all-0x00
// images (which the loaders deliberately accept).
import { describe, expect, it } from "vitest";
import {
  EmptyImageError,
  ImageOutOfRangeError,
  ImageTooLargeError,
  MAX_IMAGE_SPAN,
  assertImageWithin,
  flattenImage,
  imageDataSize,
  imageEnd,
  imageStart,
  isImageWithin,
  parseImage,
  uniformImageByte,
  type FirmwareImage,
} from "../../../src/flasher/image/index.js";
import { expectError } from "./helpers.js";

const image: FirmwareImage = {
  format: "ihex",
  source: "two.hex",
  segments: [
    { address: 0x100, data: Uint8Array.of(1, 2, 3) },
    { address: 0x108, data: Uint8Array.of(4) },
  ],
};
const empty: FirmwareImage = { format: "bin", source: "none", segments: [] };

describe("extent and size", () => {
  it("start, end (exclusive) and data size", () => {
    expect(imageStart(image)).toBe(0x100);
    expect(imageEnd(image)).toBe(0x109);
    expect(imageDataSize(image)).toBe(4);
    expect(imageDataSize(empty)).toBe(0);
  });

  it("an image without segments has no extent", () => {
    expectError(() => imageStart(empty), EmptyImageError, /none is empty: nothing to flash/);
    expectError(() => imageEnd(empty), EmptyImageError);
    expectError(() => flattenImage(empty, { start: 0, end: 4 }), EmptyImageError);
  });
});

describe("flattenImage", () => {
  it("fills gaps with 0xff by default", () => {
    expect(Array.from(flattenImage(image))).toEqual([1, 2, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 4]);
  });

  it("pads before and after with the given fill", () => {
    const flat = flattenImage(image, { start: 0xfe, end: 0x10c, fill: 0 });
    expect(Array.from(flat)).toEqual([0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 4, 0, 0, 0]);
  });

  it("never cuts image bytes off", () => {
    const err = expectError(
      () => flattenImage(image, { start: 0x101 }),
      ImageOutOfRangeError,
      /two.hex: image covers 0x100..0x109 \(end exclusive\), outside the allowed 0x101..0x109/,
    );
    expect([err.start, err.end, err.rangeStart, err.rangeEnd]).toEqual([
      0x100, 0x109, 0x101, 0x109,
    ]);
    expectError(() => flattenImage(image, { end: 0x108 }), ImageOutOfRangeError);
  });

  it("rejects bad ranges, fill bytes and huge spans", () => {
    expectError(
      () => flattenImage(image, { start: 0x200, end: 0x100 }),
      ImageOutOfRangeError,
      /not a valid address range/,
    );
    expectError(() => flattenImage(image, { start: -1 }), ImageOutOfRangeError);
    expectError(() => flattenImage(image, { end: 2 ** 32 + 1 }), ImageOutOfRangeError);
    expectError(
      () => flattenImage(image, { fill: 256 }),
      ImageOutOfRangeError,
      /fill byte 256 is not a byte/,
    );
    expectError(
      () => flattenImage(image, { start: 0, end: MAX_IMAGE_SPAN + 1 }),
      ImageTooLargeError,
    );
  });
});

describe("range checks", () => {
  it("isImageWithin / assertImageWithin", () => {
    expect(isImageWithin(image, 0x100, 0x109)).toBe(true);
    expect(isImageWithin(image, 0x101, 0x200)).toBe(false);
    expect(isImageWithin(image, 0, 0x108)).toBe(false);
    expect(isImageWithin(empty, 0, 0x100)).toBe(false);
    expect(() => assertImageWithin(image, 0, 0x1000)).not.toThrow();
    const err = expectError(
      () => assertImageWithin(image, 0x8000, 0x10000),
      ImageOutOfRangeError,
      /outside the allowed 0x8000..0x10000; check the target and the image's start address/,
    );
    expect(err.code).toBe("IMAGE_OUT_OF_RANGE");
  });
});

describe("all-0xFF and all-0x00 images (decision: load them, let pre-flight judge)", () => {
  it("loads them and reports the uniform byte", () => {
    const ff = parseImage(new Uint8Array(1024).fill(0xff), { base: 0x4000, source: "erased.bin" });
    expect(uniformImageByte(ff)).toBe(0xff);
    const zero = parseImage(new Uint8Array(1024), { base: 0x4000, source: "zero.bin" });
    expect(uniformImageByte(zero)).toBe(0);
  });

  it("looks across segments and returns undefined for real content", () => {
    expect(uniformImageByte(image)).toBeUndefined();
    const split: FirmwareImage = {
      ...image,
      segments: [
        { address: 0, data: Uint8Array.of(7, 7) },
        { address: 9, data: Uint8Array.of(7) },
      ],
    };
    expect(uniformImageByte(split)).toBe(7);
    expect(uniformImageByte(empty)).toBeUndefined();
  });
});
