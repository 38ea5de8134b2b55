// The pure pieces of the file-copy drivers, against golden bytes and real
// file systems: the UF2 writer (the block layout of the notes' example, and
// what src/flasher/image/uf2.ts reads back), INFO_UF2.TXT, /proc/mounts and
// by-label escapes, FAT boot sectors made by mkfs.vfat, the vector check.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFatBoot } from "../../../src/bootloaders/file-copy/fat-boot.js";
import { checkVectorTable } from "../../../src/bootloaders/file-copy/image-check.js";
import { decodeLabel, parseMounts } from "../../../src/bootloaders/file-copy/mounts.js";
import { encodeUf2, mcuOfBoardId, parseInfoUf2 } from "../../../src/bootloaders/file-copy/uf2.js";
import { parseUf2 } from "../../../src/flasher/image/uf2.js";
import { planFlash } from "../../../src/flasher/plan.js";
import { randomBytes } from "../../../src/util/random.js";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).map((b) => Number.parseInt(b, 16)));

describe("UF2 writer", () => {
  it("block 0 of a 100-block RP2040 image at 0x10000000, as in the notes", () => {
    const data = randomBytes(100 * 256, 1);
    const pages = Array.from({ length: 100 }, (_, i) => ({
      address: 0x10000000 + i * 256,
      data: data.subarray(i * 256, i * 256 + 256),
    }));
    const uf2 = encodeUf2(pages, 0xe48bff56);
    expect(uf2.length).toBe(100 * 512);
    expect(uf2.subarray(0, 32)).toEqual(
      hex(
        "55 46 32 0A 57 51 5D 9E 00 20 00 00 00 00 00 10 00 01 00 00 00 00 00 00 64 00 00 00 56 FF 8B E4",
      ),
    );
    expect(uf2.subarray(32, 288)).toEqual(data.subarray(0, 256));
    expect(uf2.subarray(288, 508).every((b) => b === 0)).toBe(true);
    expect(uf2.subarray(508, 512)).toEqual(hex("30 6F B1 0A"));
    // block 99: its number and address
    const dv = new DataView(uf2.buffer, 99 * 512);
    expect([dv.getUint32(12, true), dv.getUint32(20, true)]).toEqual([0x10000000 + 99 * 256, 99]);
  });

  it("reads back through the UF2 reader: same bytes, same family, same addresses", () => {
    const data = randomBytes(8 * 256, 2);
    const uf2 = encodeUf2(
      Array.from({ length: 8 }, (_, i) => ({
        address: 0x4000 + i * 256,
        data: data.subarray(i * 256, i * 256 + 256),
      })),
      0x55114460,
    );
    const img = parseUf2(uf2);
    expect(img.uf2FamilyId).toBe(0x55114460);
    expect(img.segments).toHaveLength(1);
    expect(img.segments[0]!.address).toBe(0x4000);
    expect(img.segments[0]!.data).toEqual(data);
  });

  it("refuses pages the drives refuse (not 256 bytes, not aligned)", () => {
    expect(() => encodeUf2([{ address: 0, data: new Uint8Array(255) }], 1)).toThrow(RangeError);
    expect(() => encodeUf2([{ address: 0x80, data: new Uint8Array(256) }], 1)).toThrow(RangeError);
  });

  it("INFO_UF2.TXT fields and the MCU its Board-ID names", () => {
    const i = parseInfoUf2(
      "UF2 Bootloader v3.7.0 SFHWRO\r\nModel: Metro M4\r\nBoard-ID: SAMD51J19A-Metro-v0\r\n",
    );
    expect(i).toEqual({
      version: "UF2 Bootloader v3.7.0 SFHWRO",
      model: "Metro M4",
      boardId: "SAMD51J19A-Metro-v0",
    });
    expect(mcuOfBoardId(i.boardId)).toBe("samd51j19a");
    expect(mcuOfBoardId("RPI-RP2")).toBe("rp2040");
    expect(mcuOfBoardId("NRF52840-Feather")).toBeUndefined();
  });
});

describe("mounts and labels", () => {
  it("unescapes /proc/mounts fields and udev label names", () => {
    const m = parseMounts(
      "sysfs /sys sysfs rw 0 0\n/dev/sdb1 /media/pi/MY\\040CARD vfat rw,nosuid,uid=1000 0 0\n",
    );
    expect(m[1]).toEqual({
      source: "/dev/sdb1",
      target: "/media/pi/MY CARD",
      fstype: "vfat",
      options: ["rw", "nosuid", "uid=1000"],
    });
    expect(decodeLabel("MY\\x20CARD")).toBe("MY CARD");
  });
});

describe("FAT boot sector", () => {
  it.each([
    ["FAT16", [], 16384, "FAT12/16"],
    ["FAT32", ["-F", "32"], 65536, "FAT32"],
  ])("%s made by mkfs.vfat: label and size", (_n, args, kib, fat) => {
    const dir = mkdtempSync(join(tmpdir(), "fatboot-"));
    try {
      const img = join(dir, "x.img");
      execFileSync("mkfs.vfat", ["-C", ...args, "-n", "RPI-RP2", img, String(kib)], {
        stdio: "ignore",
      });
      const b = parseFatBoot(new Uint8Array(readFileSync(img)).subarray(0, 512));
      expect(b).toEqual({ fat, bytesPerSector: 512, sizeBytes: kib * 1024, label: "RPI-RP2" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("random bytes are no FAT", () => {
    expect(parseFatBoot(randomBytes(512, 3))).toBeUndefined();
  });
});

describe("vector table", () => {
  const geometry = {
    start: 0x08002000,
    blockSize: 512,
    padByte: 0xff,
    addressUnit: "byte" as const,
  };
  const plan = (sp: number, reset: number) => {
    const d = randomBytes(2048, 4);
    const dv = new DataView(d.buffer);
    dv.setUint32(0, sp, true);
    dv.setUint32(4, reset, true);
    return planFlash({ segments: [{ address: 0x08002000, data: d }] }, geometry);
  };
  it("passes an image linked for its start; refuses a flash address as stack pointer and a foreign offset", () => {
    expect(() => checkVectorTable(plan(0x20005000, 0x08002101), { strictMsc: true })).not.toThrow();
    expect(() => checkVectorTable(plan(0x08004000, 0x08002101))).toThrow(
      /no initial stack pointer/,
    );
    expect(() => checkVectorTable(plan(0x20005000, 0x08000101))).toThrow(
      /another bootloader offset/,
    );
    // The MSC bootloader's own test ((sp >> 16) & 0x2FFE == 0x2000): 0x1000_8000 is SRAM elsewhere, not to it.
    expect(() => checkVectorTable(plan(0x10008000, 0x08002101), { strictMsc: true })).toThrow();
  });
});
