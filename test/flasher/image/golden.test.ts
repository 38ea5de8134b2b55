// Golden fixtures (test/fixtures/images, made by src/build.sh with avr-gcc,
// GNU as/ld and objcopy): every loader must yield exactly the bytes objcopy
// put in the .bin files, at the addresses the build placed them, and the HEX,
// ELF32, ELF64 and UF2 forms of one build must agree with each other.
import { describe, expect, it } from "vitest";
import {
  flattenImage,
  imageDataSize,
  imageEnd,
  imageStart,
  loadImage,
  parseBin,
  parseElf,
  parseImage,
  parseIntelHex,
  parseUf2,
  type FirmwareImage,
} from "../../../src/flasher/image/index.js";
import {
  FIXTURES,
  bytes,
  expectWellFormed,
  fixture,
  segmentsOf,
  text,
  uf2FromBin,
} from "./helpers.js";

/** What the build put where: section load addresses come from build.sh / multi.ld. */
const AVR = [
  [0x0, "avr-blink.bin"],
  [0x1f000, "avr-blink-hiflash.bin"],
] as const;
const MULTI = [
  [0x08000000, "multi-flash.bin"],
  [0x0800fff0, "multi-config.bin"],
] as const;

function expected(layout: readonly (readonly [number, string])[]): [number, number[]][] {
  return layout.map(([address, name]) => [address, Array.from(fixture(name))]);
}

describe("AVR build (ELF32, avr-objcopy HEX with 02 and 03 records)", () => {
  const hex = parseIntelHex(fixture("avr-blink.hex"), "avr-blink.hex");
  const elf = parseElf(fixture("avr-blink.elf"), "avr-blink.elf");

  it("HEX gives objcopy's bytes at the build's addresses", () => {
    expectWellFormed(hex);
    expect(segmentsOf(hex)).toEqual(expected(AVR));
    expect(hex.format).toBe("ihex");
    expect(hex.entry).toBe(0x12a); // type 03: CS 0000, IP 012A
    expect(text(fixture("avr-blink.hex"))).toContain(":020000021000EC"); // segment 0x1000
  });

  it("ELF places .data at its flash (load) address and leaves .bss out", () => {
    expectWellFormed(elf);
    expect(segmentsOf(elf)).toEqual(expected(AVR));
    expect(elf.entry).toBe(0x12a);
    // .data runs at 0x800200 in RAM; nothing may land there.
    expect(imageEnd(elf)).toBe(0x1f000 + 20);
    expect(imageDataSize(elf)).toBe(fixture("avr-blink.bin").length + 20);
  });

  it("the .bin at app start 0 equals the first segment", () => {
    const bin = parseBin(fixture("avr-blink.bin"), { base: 0, source: "avr-blink.bin" });
    expect(bin.segments[0]!.data).toEqual(elf.segments[0]!.data);
  });
});

describe("multi-segment build (ELF32 and ELF64, HEX with 04 and 05 records)", () => {
  const hex = parseIntelHex(fixture("multi.hex"));
  const elf32 = parseElf(fixture("multi32.elf"));
  const elf64 = parseElf(fixture("multi64.elf"));
  const uf2 = parseUf2(fixture("multi.uf2"));

  it("every form yields the same segments, equal to objcopy's .bin output", () => {
    for (const image of [hex, elf32, elf64, uf2]) {
      expectWellFormed(image);
      expect(segmentsOf(image)).toEqual(expected(MULTI));
    }
    expect(text(fixture("multi.hex"))).toContain(":020000040801F1"); // 04 in mid-section
  });

  it("keeps the entry point and the UF2 family", () => {
    expect(hex.entry).toBe(0x08000000);
    expect(elf32.entry).toBe(0x08000000);
    expect(elf64.entry).toBe(0x08000000);
    expect(uf2.uf2FamilyId).toBe(0x55114460);
    expect(uf2.entry).toBeUndefined();
  });

  it("flattens with gaps filled", () => {
    const flat = flattenImage(elf64);
    expect(flat.length).toBe(0x0800fff0 + 44 - 0x08000000);
    expect(flat.subarray(0, 151)).toEqual(fixture("multi-flash.bin"));
    expect(flat.subarray(151, 0xfff0).every((b) => b === 0xff)).toBe(true);
    expect(flat.subarray(0xfff0)).toEqual(fixture("multi-config.bin"));
    expect(imageStart(elf64)).toBe(0x08000000);
  });
});

describe("line ends and layout variations of the same HEX", () => {
  const original = text(fixture("avr-blink.hex")).replace(/\r\n/g, "\n"); // objcopy writes CRLF
  const want = segmentsOf(parseIntelHex(fixture("avr-blink.hex")));
  const variants: Record<string, string> = {
    "CRLF (as objcopy writes it)": text(fixture("avr-blink.hex")),
    LF: original,
    CR: original.replace(/\n/g, "\r"),
    "no final newline": original.trimEnd(),
    "trailing whitespace and blank lines": original.replace(/\n/g, "  \t\n\n"),
    "leading indentation": original.replace(/^/gm, "  "),
    "lowercase digits": original.toLowerCase(),
    "UTF-8 byte order mark": "\xef\xbb\xbf" + original,
  };
  for (const [name, variant] of Object.entries(variants)) {
    it(name, () => {
      const image = parseImage(bytes(variant), { source: "variant.hex" });
      expect(image.format).toBe("ihex");
      expect(segmentsOf(image)).toEqual(want);
    });
  }
});

describe("UF2 writer cross-check", () => {
  it("builds the documented first block of a 100-block RP2040 image and reads it back", () => {
    const data = Uint8Array.from({ length: 100 * 256 }, (_, i) => (i * 7) & 0xff);
    const file = uf2FromBin(data, 0x10000000, 0xe48bff56);
    const header =
      "55 46 32 0A 57 51 5D 9E 00 20 00 00 00 00 00 10 00 01 00 00 00 00 00 00 64 00 00 00 56 FF 8B E4";
    expect(Array.from(file.subarray(0, 32))).toEqual(header.split(" ").map((h) => parseInt(h, 16)));
    expect(Array.from(file.subarray(508, 512))).toEqual([0x30, 0x6f, 0xb1, 0x0a]);
    const image = parseUf2(file, "rp2040.uf2");
    expect(image.uf2FamilyId).toBe(0xe48bff56);
    expect(segmentsOf(image)).toEqual([[0x10000000, Array.from(data)]]);
  });
});

describe("loadImage on the fixture files", () => {
  const cases: [string, FirmwareImage["format"], readonly (readonly [number, string])[]][] = [
    ["avr-blink.hex", "ihex", AVR],
    ["avr-blink.elf", "elf", AVR],
    ["multi.hex", "ihex", MULTI],
    ["multi32.elf", "elf", MULTI],
    ["multi64.elf", "elf", MULTI],
    ["multi.uf2", "uf2", MULTI],
  ];
  for (const [name, format, layout] of cases) {
    it(`detects and reads ${name}`, async () => {
      const image = await loadImage(FIXTURES + name);
      expect(image.format).toBe(format);
      expect(image.source).toBe(FIXTURES + name);
      expect(segmentsOf(image)).toEqual(expected(layout));
    });
  }

  it("reads a .bin at the base the caller gives", async () => {
    const image = await loadImage(FIXTURES + "multi-flash.bin", { base: 0x08000000 });
    expect(image.format).toBe("bin");
    expect(segmentsOf(image)).toEqual(expected(MULTI.slice(0, 1)));
  });
});
