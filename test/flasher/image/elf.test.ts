// ELF: the malformed and non-firmware cases, made by patching the golden
// builds (multi32.elf, multi64.elf) and the relocatable multi.o.
import { describe, expect, it } from "vitest";
import {
  EmptyImageError,
  ImageFormatError,
  NotFirmwareError,
  OverlappingSegmentsError,
  UnsupportedImageError,
  parseElf,
} from "../../../src/flasher/image/index.js";
import { expectError, fixture } from "./helpers.js";

interface Layout {
  name: string;
  phoff: number;
  phentsize: number;
  /** Offsets inside a program header. */
  pOffset: number;
  pPaddr: number;
  pFilesz: number;
  pMemsz: number;
  word: (dv: DataView, at: number, v?: number) => number;
}

const ELF32: Layout = {
  name: "multi32.elf",
  phoff: 52,
  phentsize: 32,
  pOffset: 4,
  pPaddr: 12,
  pFilesz: 16,
  pMemsz: 20,
  word: (dv, at, v) => (v === undefined ? dv.getUint32(at, true) : (dv.setUint32(at, v, true), v)),
};
const ELF64: Layout = {
  name: "multi64.elf",
  phoff: 64,
  phentsize: 56,
  pOffset: 8,
  pPaddr: 24,
  pFilesz: 32,
  pMemsz: 40,
  word: (dv, at, v) =>
    v === undefined ? Number(dv.getBigUint64(at, true)) : (dv.setBigUint64(at, BigInt(v), true), v),
};

function patched(layout: Layout, edit: (dv: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = fixture(layout.name);
  edit(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes);
  return bytes;
}

const PASS_FIRMWARE = /pass the linked firmware: out\/klipper.bin or out\/klipper.elf/;
const CUT = /cut short: rebuild the firmware or copy the file again/;

for (const L of [ELF32, ELF64]) {
  const ph = (i: number, field: number) => L.phoff + i * L.phentsize + field;

  describe(`malformed ${L.name}`, () => {
    it("has the program header layout the tests assume", () => {
      const image = parseElf(fixture(L.name));
      const dv = new DataView(fixture(L.name).buffer);
      expect(L.word(dv, ph(1, L.pPaddr))).toBe(0x0800005e); // .data LMA
      expect(image.segments.length).toBe(2);
    });

    it("big-endian", () => {
      const err = expectError(
        () =>
          parseElf(
            patched(L, (_, b) => (b[5] = 2)),
            "be.elf",
          ),
        UnsupportedImageError,
        /be.elf: big-endian ELF is not supported/,
        /objcopy -O binary/,
      );
      expect(err.feature).toBe("big-endian ELF");
    });

    it("cut inside the ELF header", () => {
      const size = L === ELF32 ? 52 : 64;
      const err = expectError(
        () => parseElf(fixture(L.name).subarray(0, 30), "cut.elf"),
        ImageFormatError,
        `cut.elf offset 0x0: truncated: the ${size}-byte ELF header runs past the end of the file (30 bytes)`,
        CUT,
      );
      expect(err.offset).toBe(0);
      expectError(
        () => parseElf(fixture(L.name).subarray(0, 10)),
        ImageFormatError,
        /16-byte ELF identification/,
      );
    });

    it("cut inside the program header table", () => {
      const err = expectError(
        () => parseElf(fixture(L.name).subarray(0, L.phoff + 40)),
        ImageFormatError,
        `offset 0x${L.phoff.toString(16)}: truncated: the program header table`,
        CUT,
      );
      expect(err.offset).toBe(L.phoff);
    });

    it("cut inside a segment's bytes", () => {
      const bytes = fixture(L.name);
      const dv = new DataView(bytes.buffer);
      const end = L.word(dv, ph(2, L.pOffset)) + 10;
      const err = expectError(
        () => parseElf(bytes.subarray(0, end)),
        ImageFormatError,
        `program header 2 (offset 0x${ph(2, 0).toString(16)}): truncated: its 44 file bytes`,
        `run past the end of the file (${end} bytes)`,
        CUT,
      );
      expect(err.programHeader).toBe(2);
      expect(err.offset).toBe(ph(2, 0));
    });

    it("overlapping PT_LOAD segments name both program headers", () => {
      const bytes = patched(L, (dv) => L.word(dv, ph(2, L.pPaddr), 0x08000010));
      const err = expectError(
        () => parseElf(bytes),
        OverlappingSegmentsError,
        `address 0x8000010 is written twice, by program header 0 (offset 0x${L.phoff.toString(16)}) ` +
          `and by program header 2 (offset 0x${ph(2, 0).toString(16)})`,
      );
      expect(err.first).toEqual({ programHeader: 0, offset: L.phoff });
      expect(err.second).toEqual({ programHeader: 2, offset: ph(2, 0) });
    });

    it("no PT_LOAD at all", () => {
      const bytes = patched(L, (dv) => {
        for (let i = 0; i < 3; i++) dv.setUint32(ph(i, 0), 4, true); // PT_NOTE
      });
      const err = expectError(
        () => parseElf(bytes),
        NotFirmwareError,
        /no loadable \(PT_LOAD\) segments, so it looks like an object file/,
        PASS_FIRMWARE,
      );
      expect(err.kind).toBe("no-loadable-segments");
    });

    it("PT_LOAD segments without file bytes", () => {
      const bytes = patched(L, (dv) => {
        for (let i = 0; i < 3; i++) L.word(dv, ph(i, L.pFilesz), 0);
      });
      expectError(
        () => parseElf(bytes),
        EmptyImageError,
        /nothing to flash \(its loadable segments hold no file bytes\)/,
      );
    });

    it("file size larger than memory size", () => {
      const bytes = patched(L, (dv) => L.word(dv, ph(0, L.pMemsz), 4));
      expectError(
        () => parseElf(bytes),
        ImageFormatError,
        "program header 0",
        /file size 0x5e is larger than memory size 0x4/,
      );
    });

    it("bad class, data encoding and version bytes", () => {
      expectError(
        () => parseElf(patched(L, (_, b) => (b[4] = 3))),
        ImageFormatError,
        "offset 0x4",
        /unknown ELF class 3/,
      );
      expectError(
        () => parseElf(patched(L, (_, b) => (b[5] = 0))),
        ImageFormatError,
        "offset 0x5",
        /data encoding 0/,
      );
      expectError(
        () => parseElf(patched(L, (_, b) => (b[6] = 0))),
        ImageFormatError,
        "offset 0x6",
        /ELF version 0/,
      );
    });

    it("program header entries too small, or PN_XNUM", () => {
      const at = L === ELF32 ? 42 : 54;
      expectError(
        () => parseElf(patched(L, (dv) => dv.setUint16(at, 8, true))),
        ImageFormatError,
        /program header size 8 is too small/,
      );
      expectError(
        () => parseElf(patched(L, (dv) => dv.setUint16(at + 2, 0xffff, true))),
        UnsupportedImageError,
        /65535 or more program headers/,
      );
    });

    it("core dumps are not firmware", () => {
      const err = expectError(
        () => parseElf(patched(L, (dv) => dv.setUint16(16, 4, true))),
        NotFirmwareError,
        /core dump/,
      );
      expect(err.kind).toBe("core-dump");
    });
  });
}

describe("ELF specifics", () => {
  it("a relocatable object (.o) is refused as not a linked firmware", () => {
    const err = expectError(
      () => parseElf(fixture("multi.o"), "multi.o"),
      NotFirmwareError,
      /multi.o is not a firmware image: it is a relocatable object file \(.o\), not a linked firmware/,
      PASS_FIRMWARE,
    );
    expect(err.kind).toBe("object-file");
    expect(err.code).toBe("IMAGE_NOT_FIRMWARE");
  });

  it("an executable without program headers is refused the same way", () => {
    const bytes = fixture("multi.o");
    new DataView(bytes.buffer).setUint16(16, 2, true); // ET_EXEC, e_phnum still 0
    expectError(() => parseElf(bytes), NotFirmwareError, /looks like an object file/);
  });

  it("ELF64 loads past 4 GiB are refused", () => {
    const bytes = patched(ELF64, (dv) => ELF64.word(dv, 64 + 2 * 56 + 24, 2 ** 32));
    expectError(
      () => parseElf(bytes),
      ImageFormatError,
      "program header 2",
      /past the 32-bit address space/,
    );
  });

  it("not ELF at all", () => {
    expectError(
      () => parseElf(fixture("multi.hex"), "multi.hex"),
      ImageFormatError,
      "multi.hex offset 0x0: does not start with the ELF magic 7f 45 4c 46",
      PASS_FIRMWARE,
    );
  });
});
