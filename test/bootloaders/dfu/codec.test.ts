// The pure DFU pieces with golden bytes: GETSTATUS, the functional
// descriptor, DfuSe commands, the memory layout strings of the STM32 ROMs
// and the sectors an image touches, the .dfu suffix (checked against
// Debian's dfu-suffix output for the same bytes).
import { describe, expect, it } from "vitest";
import {
  dfuseErase,
  dfuseSetAddress,
  encodeFunctional,
  findFunctional,
  parseMemoryLayout,
  parseStatus,
  sectorsToErase,
  statusText,
} from "../../../src/bootloaders/dfu/codec.js";
import {
  checkDfuSuffix,
  dfuCrc,
  readDfuSuffix,
  withDfuSuffix,
} from "../../../src/flasher/image/dfu-suffix.js";

describe("DFU codec", () => {
  it("GETSTATUS: status, 24-bit poll timeout, state (dfu.md §10)", () => {
    expect(parseStatus(Uint8Array.of(0, 0x2c, 0x01, 0, 4, 0))).toEqual({
      status: 0,
      pollTimeoutMs: 300,
      state: 4,
      iString: 0,
    });
    expect(statusText(0x08)).toMatch(/errADDRESS/);
    expect(() => parseStatus(Uint8Array.of(0, 0))).toThrow(/6 expected/);
  });

  it("the functional descriptor round-trips and is found among other class descriptors", () => {
    const f = {
      canDownload: true,
      canUpload: false,
      manifestationTolerant: false,
      willDetach: true,
      detachTimeoutMs: 255,
      transferSize: 2048,
      dfuVersion: 0x011a,
    };
    const b = encodeFunctional(f);
    expect(Array.from(b)).toEqual([9, 0x21, 0x09, 0xff, 0, 0x00, 0x08, 0x1a, 0x01]);
    expect(findFunctional(Uint8Array.of(5, 0x24, 0, 0, 0, ...b))).toEqual(f);
  });

  it("DfuSe commands: SET ADDRESS and ERASE with the address little-endian", () => {
    expect(Array.from(dfuseSetAddress(0x08002000))).toEqual([0x21, 0x00, 0x20, 0x00, 0x08]);
    expect(Array.from(dfuseErase(0x08004000))).toEqual([0x41, 0x00, 0x40, 0x00, 0x08]);
  });

  it("memory layouts: the F4's mixed sectors, the F0's pages, type letters, and the sectors an image touches", () => {
    const f4 = parseMemoryLayout("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg")!;
    expect(f4.name).toBe("Internal Flash");
    expect(f4.segments.map((s) => [s.start, s.sectors, s.sectorSize])).toEqual([
      [0x08000000, 4, 0x4000],
      [0x08010000, 1, 0x10000],
      [0x08020000, 7, 0x20000],
    ]);
    expect(sectorsToErase(f4, 0x08000000, 0x08000000 + 40_000)).toEqual([
      0x08000000, 0x08004000, 0x08008000,
    ]);
    expect(sectorsToErase(f4, 0x0800c000, 0x08030000)).toEqual([
      0x0800c000, 0x08010000, 0x08020000,
    ]);
    const ob = parseMemoryLayout("@Option Bytes  /0x1FFFC000/01*016 e")!;
    expect(ob.segments[0]).toMatchObject({
      sectorSize: 16,
      readable: true,
      erasable: false,
      writable: true,
    });
    expect(() => sectorsToErase(ob, 0x1fffc000, 0x1fffc004)).toThrow(/not erasable and writable/);
    expect(() => sectorsToErase(f4, 0x08000000, 0x08100001)).toThrow(/outside the memory layout/);
    expect(parseMemoryLayout("STM32duino bootloader")).toBeUndefined();
    expect(() => parseMemoryLayout("@Flash/0x0800/xx")).toThrow(/bad sector list item/);
  });
});

describe("the .dfu suffix", () => {
  it("is laid out as dfu-suffix -v 0483 -p df11 -a writes it (CRC without the final XOR); a damaged CRC or other ids are refused", () => {
    const body = Uint8Array.from({ length: 100 }, (_, i) => (i * 13) & 0xff);
    const f = withDfuSuffix(body, { vendorId: 0x0483, productId: 0xdf11 });
    expect(Array.from(f.subarray(100, 112))).toEqual([
      0xff, 0xff, 0x11, 0xdf, 0x83, 0x04, 0x00, 0x01, 0x55, 0x46, 0x44, 0x10,
    ]);
    const s = readDfuSuffix(f)!;
    expect(s).toMatchObject({
      vendorId: 0x0483,
      productId: 0xdf11,
      crc: dfuCrc(f.subarray(0, 112)),
    });
    expect(() => checkDfuSuffix("fw.dfu", s, ["0483:df11"])).not.toThrow();
    expect(() => checkDfuSuffix("fw.dfu", s, ["1eaf:0003"])).toThrow(/for USB device 0483:df11/);
    const bad = f.slice();
    bad[10] = bad[10]! ^ 1;
    expect(() => checkDfuSuffix("fw.dfu", readDfuSuffix(bad)!, ["0483:df11"])).toThrow(/CRC/);
    expect(readDfuSuffix(body)).toBeUndefined();
  });
});
