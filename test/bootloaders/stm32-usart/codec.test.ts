// The STM32 ROM USART frames, byte for byte from the worked examples of
// stm32-usart.md §9 (AN3155), the part table's erase layouts, the
// pipelining rule, and the pure image checks (where an image is linked,
// what sits below it, write protection from the option bytes).
import { describe, expect, it } from "vitest";
import * as c from "../../../src/bootloaders/stm32-usart/codec.js";
import { Stm32LinkedForOffsetError } from "../../../src/bootloaders/stm32-usart/errors.js";
import {
  checkLinkedAtStart,
  findBelow,
  overlaps,
  protectedRanges,
  vectorHandlers,
} from "../../../src/bootloaders/stm32-usart/image-checks.js";
import {
  eraseUnits,
  partById,
  partsForChip,
  unitsCovering,
} from "../../../src/bootloaders/stm32-usart/parts.js";
import { pipelineSafe } from "../../../src/bootloaders/stm32-usart/session.js";
import { planFlash } from "../../../src/flasher/plan.js";
import { armImage } from "./images.js";

const hex = (b: ArrayLike<number>) =>
  Buffer.from(Array.from(b)).toString("hex").replace(/(..)/g, "$1 ").trim();
const F103 = partById(0x410)!;
const F407 = partById(0x413)!;
const FLASH64 = { start: 0x08000000, end: 0x08010000 };

describe("frames (stm32-usart.md §9)", () => {
  it("commands are the code and its complement", () => {
    expect(hex(c.command(c.Cmd.GET))).toBe("00 ff");
    expect(hex(c.command(c.Cmd.WRITE_MEMORY))).toBe("31 ce");
    expect(hex(c.command(c.Cmd.READ_MEMORY))).toBe("11 ee");
    expect(hex(c.command(c.Cmd.GO))).toBe("21 de");
    expect(hex(c.command(c.Cmd.ERASE))).toBe("43 bc");
    expect(hex(c.command(c.Cmd.EXTENDED_ERASE))).toBe("44 bb");
    expect(hex(c.command(c.Cmd.GET_ID))).toBe("02 fd");
  });

  it("WRITE 8 bytes at 0x08002000: address with XOR, data block with N-1 and XOR", () => {
    expect(hex(c.address(0x08002000))).toBe("08 00 20 00 28");
    expect(hex(c.dataBlock(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)))).toBe(
      "07 01 02 03 04 05 06 07 08 0f",
    );
  });

  it("READ 256 bytes at 0x08000000, and the F1 flash-size register", () => {
    expect(hex(c.address(0x08000000))).toBe("08 00 00 00 08");
    expect(hex(c.readLength(256))).toBe("ff 00");
    expect(hex(c.address(0x1ffff7e0))).toBe("1f ff f7 e0 f7");
    expect(hex(c.readLength(2))).toBe("01 fe");
    expect(() => c.readLength(257)).toThrow(RangeError);
    expect(() => c.readLength(0)).toThrow(RangeError);
  });

  it("ERASE pages 0..3, the global erase, EXTENDED_ERASE of sectors and the special codes", () => {
    expect(hex(c.erasePages([0, 1, 2, 3]))).toBe("03 00 01 02 03 03");
    expect(hex(c.erasePages([0]))).toBe("00 00 00"); // stm32flash's one-page erase of a 1000-byte file
    expect(hex(c.GLOBAL_ERASE)).toBe("ff 00");
    expect(hex(c.extendedErasePages([0, 1, 2]))).toBe("00 02 00 00 00 01 00 02 01");
    expect(hex(c.extendedErasePages([5]))).toBe("00 00 00 05 05");
    expect(hex(c.extendedEraseSpecial(c.EXTENDED_ERASE_SPECIAL.MASS))).toBe("ff ff 00");
    expect(hex(c.extendedEraseSpecial(c.EXTENDED_ERASE_SPECIAL.BANK1))).toBe("ff fe 01");
    expect(hex(c.extendedEraseSpecial(c.EXTENDED_ERASE_SPECIAL.BANK2))).toBe("ff fd 02");
    expect(() => c.erasePages([256])).toThrow(RangeError);
    expect(() => c.erasePages(Array.from({ length: 256 }, (_, i) => i % 256))).toThrow(RangeError);
    expect(() => c.extendedErasePages([0xfffd])).toThrow(RangeError);
  });

  it("parses GET and GET_ID replies as an F103 sends them", () => {
    const get = c.parseGet(
      Uint8Array.from([
        0x0b, 0x22, 0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x43, 0x63, 0x73, 0x82, 0x92,
      ]),
    );
    expect(get.version).toBe(0x22);
    expect(c.formatVersion(get.version)).toBe("2.2");
    expect(get.commands).toEqual([
      0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x43, 0x63, 0x73, 0x82, 0x92,
    ]);
    expect(c.parseGetId(Uint8Array.of(0x01, 0x04, 0x10))).toBe(0x410);
  });

  it("word padding, erased-tail trimming, block limits, answer names", () => {
    expect(hex(c.padToWord(Uint8Array.of(1, 2, 3, 4, 5)))).toBe("01 02 03 04 05 ff ff ff");
    expect(hex(c.trimErased(Uint8Array.of(1, 2, 3, 4, 5, 0xff, 0xff, 0xff, 0xff, 0xff)))).toBe(
      "01 02 03 04 05 ff ff ff",
    );
    expect(c.trimErased(new Uint8Array(256).fill(0xff)).length).toBe(0);
    expect(() => c.dataBlock(new Uint8Array(257))).toThrow(RangeError);
    expect(c.describeAnswer(0x79)).toMatch(/ACK/);
    expect(c.describeAnswer(0x7f)).toMatch(/echoed/);
    expect(c.describeAnswer(0x42)).toMatch(/wrong baud rate or line mode/);
  });
});

describe("pipelining is allowed only where a refused step can lead to nothing but NACKs", () => {
  it("a READ of 256 bytes at a block address is safe; lengths that are command codes are not", () => {
    const read = (a: number, n: number) => [
      c.command(c.Cmd.READ_MEMORY),
      c.address(a),
      c.readLength(n),
    ];
    expect(pipelineSafe(read(0x08000000, 256))).toBe(true);
    expect(pipelineSafe(read(0x08004000, 256))).toBe(true);
    // N-1 = 0x11 followed by its complement would be a READ command of its own
    expect(pipelineSafe(read(0x08000000, 0x12))).toBe(false);
    expect(pipelineSafe(read(0x08000000, 1))).toBe(false); // 00 ff = GET
  });

  it("data whose bytes pair into a command behind the address is sent after the address's ACK", () => {
    const write = (data: Uint8Array) => [
      c.command(c.Cmd.WRITE_MEMORY),
      c.address(0x08000000),
      c.dataBlock(data),
    ];
    expect(pipelineSafe(write(new Uint8Array(256).fill(0x5a)))).toBe(true);
    const erase = new Uint8Array(256).fill(0x5a);
    // After a refused address the ROM reads the data block from its N-1 byte: pairs start there.
    erase.set([0x43, 0xbc], 9); // block offset 10 = an even offset from N-1
    expect(pipelineSafe(write(erase))).toBe(false);
    // The address is five bytes: a pair at an odd offset from N-1 is at an even one from the
    // address (read as commands after a refused command step), so a pair anywhere counts.
    for (const at of [10, 11, 100, 201]) {
      const d = new Uint8Array(256).fill(0x5a);
      d.set([0x82, 0x7d], at); // READOUT_PROTECT
      expect(pipelineSafe(write(d))).toBe(false);
    }
  });
});

describe("the part table", () => {
  it("the F103 medium density has 1 KiB pages; the F407's sectors are 4 × 16, 64, 7 × 128 KiB", () => {
    const pages = eraseUnits(F103, 64 * 1024);
    expect(pages).toHaveLength(64);
    expect(pages[1]).toEqual({ index: 1, start: 0x08000400, size: 1024 });
    const sectors = eraseUnits(F407, 1024 * 1024);
    expect(sectors.map((s) => s.size / 1024)).toEqual([
      16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128,
    ]);
    expect(sectors[5]!.start).toBe(0x08020000);
    expect(sectors.at(-1)!.start + sectors.at(-1)!.size).toBe(0x08100000);
    expect(eraseUnits(partById(0x423)!, 256 * 1024).map((s) => s.size / 1024)).toEqual([
      16, 16, 16, 16, 64, 128,
    ]);
    const dual = eraseUnits(partById(0x419)!, 2048 * 1024);
    expect(dual[12]).toEqual({ index: 12, start: 0x08100000, size: 16384 });
  });

  it("covering: only the units the ranges touch", () => {
    const sectors = eraseUnits(F407, 1024 * 1024);
    const hit = unitsCovering(sectors, [[0x08000000, 0x08000000 + 40_000]]);
    expect(hit.map((u) => u.index)).toEqual([0, 1, 2]);
    const pages = eraseUnits(F103, 64 * 1024);
    expect(
      unitsCovering(pages, [
        [0x08000000, 0x08000100],
        [0x08003000, 0x08003400],
      ]).map((u) => u.index),
    ).toEqual([0, 12]);
  });

  it("chips map to ids, and Klipper's MCU only where the id names one", () => {
    expect(partsForChip("stm32f103").map((p) => p.pid)).toEqual([0x412, 0x410, 0x414, 0x430]);
    expect(partsForChip("stm32f407").map((p) => p.pid)).toEqual([0x413]);
    expect(F103.mcu).toBe("stm32f103xe");
    expect(F407.mcu).toBeUndefined(); // F405 or F407: the ROM does not tell
  });
});

describe("image checks", () => {
  const plan = (img: Uint8Array, at = 0x08000000) =>
    planFlash(
      { segments: [{ address: at, data: img }] },
      { start: 0x08000000, end: 0x08010000, blockSize: 256, padByte: 0xff, addressUnit: "byte" },
    );

  it("an image linked at the flash start passes; one linked for 0x08002000 is refused with the offset", () => {
    const good = armImage({ size: 20_000, linkedAt: 0x08000000 });
    expect(vectorHandlers(good, F103, FLASH64)!.length).toBeGreaterThan(40);
    expect(() => checkLinkedAtStart(plan(good), F103, FLASH64)).not.toThrow();
    const katapultApp = armImage({ size: 20_000, linkedAt: 0x08002000 });
    let err: unknown;
    try {
      checkLinkedAtStart(plan(katapultApp), F103, FLASH64);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Stm32LinkedForOffsetError);
    expect((err as Stm32LinkedForOffsetError).offset).toBe(0x2000);
    expect((err as Stm32LinkedForOffsetError).vector).toBeGreaterThanOrEqual(0x08000000 + 20_224);
    const hid = armImage({ size: 2000, linkedAt: 0x08000800 });
    expect(() => checkLinkedAtStart(plan(hid), F103, FLASH64)).toThrow(/offset 0x800/);
  });

  it("a .bin linked higher whose vectors all still fall inside it cannot be told apart (passes)", () => {
    // Vectors up to 0x08000800 + 14 000, inside 0x08000000 + 20 000: the same as a build at 0.
    const hid = armImage({ size: 20_000, linkedAt: 0x08000800 });
    expect(() => checkLinkedAtStart(plan(hid), F103, FLASH64)).not.toThrow();
  });

  it("bytes that are no vector table are left alone (nothing to judge)", () => {
    const random = new Uint8Array(4096).fill(0x31);
    expect(vectorHandlers(random, F103, FLASH64)).toBeUndefined();
    expect(() => checkLinkedAtStart(plan(random), F103, FLASH64)).not.toThrow();
  });

  it("below an image at 0x08002000: a bootloader, erased flash, or an old application", () => {
    const boot = armImage({ size: 0x1800, linkedAt: 0x08000000 }).subarray(0, 8);
    expect(findBelow(boot, 0x08002000, F103, FLASH64)).toBe("bootloader");
    expect(findBelow(new Uint8Array(8).fill(0xff), 0x08002000, F103, FLASH64)).toBe("erased");
    const app = armImage({ size: 30_000, linkedAt: 0x08000000 });
    expect(findBelow(app.subarray(0, 8), 0x08000100, F103, FLASH64)).toBe("an application");
    expect(findBelow(new Uint8Array(8).fill(0x12), 0x08002000, F103, FLASH64)).toBe(
      "no vector table",
    );
  });

  it("write protection from the option bytes (F1: 4 KiB per bit; F4: one bit per sector)", () => {
    const ob = new Uint8Array(16).fill(0xff);
    for (const i of [9, 11, 13, 15]) ob[i] = 0;
    expect(protectedRanges(ob, F103, FLASH64)).toEqual([]);
    ob[8] = 0xfc; // bits 0 and 1: the first 8 KiB
    expect(protectedRanges(ob, F103, FLASH64)).toEqual([[0x08000000, 0x08002000]]);
    expect(overlaps([[0x08001c00, 0x08002400]], protectedRanges(ob, F103, FLASH64)!)).toEqual([
      [0x08001c00, 0x08002000],
    ]);
    const f4 = new Uint8Array(16).fill(0xff);
    f4[8] = 0xff & ~(1 << 5);
    f4[9] = 0x0f;
    expect(protectedRanges(f4, F407, { start: 0x08000000, end: 0x08100000 })).toEqual([
      [0x08020000, 0x08040000],
    ]);
    f4[9] = 0x8f; // PCROP mode: nWRP means something else
    expect(protectedRanges(f4, F407, { start: 0x08000000, end: 0x08100000 })).toBeUndefined();
  });
});
