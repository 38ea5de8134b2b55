// Format detection, raw .bin handling, non-firmware inputs and loadImage.
// Decision documented here: content wins over the file name, so a file named
// .bin that holds Intel HEX text is read as HEX (its own addresses, the base is
// not used); a .hex/.elf/.uf2 name whose content proves nothing goes to that
// format's parser, whose error says what is wrong.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  EmptyImageError,
  ImageError,
  ImageFormatError,
  ImageOutOfRangeError,
  ImageReadError,
  MissingBaseAddressError,
  NotFirmwareError,
  UnsupportedImageError,
  detectImageFormat,
  formatFromExtension,
  loadImage,
  parseBin,
  parseImage,
} from "../../../src/flasher/image/index.js";
import { AbortedError } from "../../../src/util/errors.js";
import { FIXTURES, bytes, expectError, fixture, segmentsOf } from "./helpers.js";

const PASS = /out\/klipper.bin, out\/klipper.elf, out\/klipper.elf.hex or out\/klipper.uf2/;
const tmp = mkdtempSync(join(tmpdir(), "canflash-images-"));

describe("detectImageFormat", () => {
  it("goes by content", () => {
    expect(detectImageFormat(fixture("multi32.elf"), "x.bin")).toBe("elf");
    expect(detectImageFormat(fixture("multi.uf2"), "x.hex")).toBe("uf2");
    expect(detectImageFormat(fixture("multi.hex"), "x.bin")).toBe("ihex");
    expect(detectImageFormat(bytes("\r\n  " + ":00000001FF"), "x")).toBe("ihex");
    expect(detectImageFormat(fixture("multi-flash.bin"), "klipper.bin")).toBe("bin");
    expect(detectImageFormat(fixture("multi-flash.bin"), "klipper")).toBe("bin");
  });

  it("uses the extension only when the content proves nothing", () => {
    expect(detectImageFormat(fixture("multi-flash.bin"), "klipper.elf.hex")).toBe("ihex");
    expect(detectImageFormat(fixture("multi-flash.bin"), "klipper.elf")).toBe("elf");
    expect(detectImageFormat(fixture("multi-flash.bin"), "klipper.UF2")).toBe("uf2");
    expect(formatFromExtension("out/klipper.elf.hex")).toBe("ihex");
    expect(formatFromExtension("a.ihex")).toBe("ihex");
    expect(formatFromExtension("firmware")).toBeUndefined();
  });
});

describe("name and content disagree", () => {
  it("a .bin that is Intel HEX text is read as HEX at its own addresses", () => {
    const image = parseImage(fixture("avr-blink.hex"), { source: "klipper.bin", base: 0x8000 });
    expect(image.format).toBe("ihex");
    expect(image.segments[0]!.address).toBe(0);
  });

  it("a .hex that is binary gets the HEX parser's explanation", () => {
    expectError(
      () => parseImage(fixture("multi-flash.bin"), { source: "klipper.elf.hex" }),
      ImageFormatError,
      "klipper.elf.hex line 1",
      /This is not an Intel HEX file/,
    );
    expectError(
      () => parseImage(fixture("multi-flash.bin"), { source: "k.elf" }),
      ImageFormatError,
      /ELF magic/,
    );
    expectError(
      () => parseImage(fixture("multi-flash.bin"), { source: "k.uf2" }),
      ImageFormatError,
      /not a whole number of 512-byte blocks/,
    );
  });

  it("forcing format bin on HEX/ELF/UF2 content is refused", () => {
    expectError(
      () => parseImage(fixture("multi.hex"), { format: "bin", base: 0, source: "m.hex" }),
      ImageFormatError,
      /m.hex offset 0x0: the file is Intel HEX, not a raw binary/,
      /Load it as ihex/,
    );
    expectError(
      () => parseImage(fixture("multi64.elf"), { format: "bin", base: 0 }),
      ImageFormatError,
      /the file is ELF/,
    );
  });

  it("forcing format bin on text is allowed (the caller knows)", () => {
    const image = parseImage(bytes("hello"), { format: "bin", base: 0x100 });
    expect(segmentsOf(image)).toEqual([[0x100, [104, 101, 108, 108, 111]]]);
  });
});

describe("raw .bin", () => {
  it("needs the target's start address", () => {
    const err = expectError(
      () => parseImage(fixture("multi-flash.bin"), { source: "klipper.bin" }),
      MissingBaseAddressError,
      /klipper.bin: a .bin holds raw bytes without addresses, so it needs the target's application start address/,
      /choose a target or give the base address/,
    );
    expect(err.code).toBe("IMAGE_NEEDS_BASE");
  });

  it("copies the bytes (no aliasing) and checks the base", () => {
    const input = Uint8Array.of(1, 2, 3);
    const image = parseBin(input, { base: 0x08002000 });
    input[0] = 9;
    expect(segmentsOf(image)).toEqual([[0x08002000, [1, 2, 3]]]);
    expectError(() => parseBin(input, { base: -1 }), ImageOutOfRangeError, /base address -0x1/);
    expectError(() => parseBin(input, { base: 1.5 }), ImageOutOfRangeError, /base address 1.5/);
    expectError(
      () => parseBin(input, { base: 2 ** 32 - 2 }),
      ImageOutOfRangeError,
      /inside the 32-bit address space/,
    );
  });
});

describe("inputs that are not firmware", () => {
  const cases: [
    string,
    string | Uint8Array,
    abstract new (...args: never[]) => ImageError,
    RegExp,
  ][] = [
    [
      "README.md",
      "# canflash\n\nFlashes things.\n",
      NotFirmwareError,
      /it is text \("# canflash"\), e.g. a README/,
    ],
    ["config.json", '  {"mcu": "stm32"}', NotFirmwareError, /it is JSON text/],
    [
      "klipper.bin",
      "<!DOCTYPE html><html>",
      NotFirmwareError,
      /HTML\/XML page .* web page saved instead of the download/,
    ],
    ["notes.hex", "Ünïcödé text, not HEX", NotFirmwareError, /it is text/],
    ["fw.zip", "PK\x03\x04rest", NotFirmwareError, /zip archive \(unpack it\)/],
    ["fw.bin.gz", Uint8Array.of(0x1f, 0x8b, 8, 0), NotFirmwareError, /gzip-compressed/],
    ["libfoo.a", "!<arch>\nfoo.o/", NotFirmwareError, /static library/],
    [
      "fw.s19",
      "S00F000068656C6C6F202020202000003C\nS9030000FC\n",
      UnsupportedImageError,
      /Motorola S-record/,
    ],
    ["fw.dfu", "DfuSe\x01\x00\x00", UnsupportedImageError, /DfuSe \(.dfu\) container/],
  ];
  for (const [name, content, cls, pattern] of cases) {
    it(name, () => {
      const data = typeof content === "string" ? new TextEncoder().encode(content) : content;
      const err = expectError(() => parseImage(data, { source: name }), cls, pattern);
      expect(err.message.startsWith(name)).toBe(true);
      if (err instanceof NotFirmwareError) expect(err.message).toMatch(PASS);
    });
  }

  it("empty and whitespace-only files", () => {
    expectError(
      () => parseImage(new Uint8Array(0), { source: "k.bin" }),
      EmptyImageError,
      "k.bin is empty: nothing to flash (the file is 0 bytes)",
    );
    expectError(
      () => parseImage(bytes(" \n\t\r\n"), { source: "k.hex" }),
      EmptyImageError,
      /only whitespace/,
    );
    expectError(() => parseBin(new Uint8Array(0), { base: 0 }), EmptyImageError);
  });
});

describe("loadImage", () => {
  it("reads, detects, and names the file in errors", async () => {
    const path = join(tmp, "klipper.bin");
    writeFileSync(path, fixture("multi.hex"));
    const image = await loadImage(path);
    expect(image.format).toBe("ihex");
    expect(image.source).toBe(path);
    const labelled = await loadImage(FIXTURES + "multi-flash.bin", {
      base: 0x08000000,
      source: "klipper.bin",
    });
    expect(labelled.source).toBe("klipper.bin");
  });

  it("empty file", async () => {
    const path = join(tmp, "empty.bin");
    writeFileSync(path, "");
    await expect(loadImage(path, { base: 0 })).rejects.toThrow(
      /empty.bin is empty: nothing to flash/,
    );
  });

  it("missing file and directory", async () => {
    const missing = loadImage(join(tmp, "nope.bin"));
    await expect(missing).rejects.toBeInstanceOf(ImageReadError);
    await expect(loadImage(join(tmp, "nope.bin"))).rejects.toThrow(
      /cannot read .*nope.bin: no such file/,
    );
    await expect(loadImage(tmp)).rejects.toMatchObject({ errno: "EISDIR", code: "IMAGE_READ" });
  });

  it("honours an aborted signal", async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(loadImage(FIXTURES + "multi.hex", { signal: ctl.signal })).rejects.toBeInstanceOf(
      AbortedError,
    );
  });

  it("reads files larger than one read chunk", async () => {
    const big = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 31) & 0xff);
    const path = join(tmp, "big.bin");
    writeFileSync(path, big);
    const image = await loadImage(path, { base: 0x10000000 });
    expect(Buffer.from(image.segments[0]!.data).equals(big)).toBe(true); // toEqual is slow on MiBs
  });
});
