// The FAT layer against real file systems: images made by mkfs.vfat
// (FAT12, FAT16, FAT32, and an MBR-partitioned card), files written by
// canflash read back by mtools and checked clean by fsck.vfat -n, files
// mtools wrote read by canflash; long names, case flags, rename, remove,
// a full card and a card that is not FAT.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { FatFormatError, FatFullError } from "../../../src/entry/fat/layout.js";
import { FatVolume } from "../../../src/entry/fat/volume.js";
import { randomBytes } from "../../../src/util/random.js";
import { fsck, imageDevice, mcopyIn, mdir, mkfs, mtype, removeTempDirs } from "./fat-images.js";

afterAll(removeTempDirs);
const NOW = () => new Date(2024, 0, 2, 3, 4, 6);

describe.each([
  [12, 2],
  [16, 16],
  [32, 40],
] as const)("FAT%i (%i MiB, mkfs.vfat)", (bits, mib) => {
  it("writes firmware.bin, ZNP_ROBIN_NANO.bin and a dated name that mtools reads back; fsck is clean", async () => {
    const img = mkfs(bits, mib);
    const dev = imageDevice(img);
    const v = await FatVolume.open(dev, { now: NOW });
    expect(v.layout.type).toBe(bits);
    const fw = randomBytes(70_001, 3);
    const znp = randomBytes(5000, 4);
    await v.write("firmware.bin", fw);
    await v.write("ZNP_ROBIN_NANO.bin", znp);
    await v.write("20240102030405firmware.bin", fw.subarray(0, 100));
    dev.save();
    const listing = mdir(img);
    expect(listing).toContain("::/firmware.bin");
    expect(listing).toContain("::/ZNP_ROBIN_NANO.bin");
    expect(listing).toContain("::/20240102030405firmware.bin");
    expect(new Uint8Array(mtype(img, "firmware.bin"))).toEqual(fw);
    expect(new Uint8Array(mtype(img, "ZNP_ROBIN_NANO.bin"))).toEqual(znp);
    expect(fsck(img)).toBe("clean");
    // firmware.bin is a plain 8.3 name: a short entry with the lower-case flags, no long name
    const f = await v.find("FIRMWARE.BIN");
    expect(f).toMatchObject({
      name: "firmware.bin",
      shortName: "FIRMWARE.BIN",
      slots: [expect.any(Number)],
    });
    expect((await v.find("znp_robin_nano.bin"))?.shortName).toBe("ZNP_RO~1.BIN");
  });

  it("reads files mtools wrote, renames firmware.bin to FIRMWARE.CUR and removes files; fsck is clean", async () => {
    const img = mkfs(bits, mib);
    const data = randomBytes(33_333, 5);
    mcopyIn(img, "firmware.bin", data);
    mcopyIn(img, "Some Long Name.txt", Uint8Array.of(1, 2, 3));
    const dev = imageDevice(img);
    const v = await FatVolume.open(dev, { now: NOW });
    expect((await v.list()).map((f) => f.name).sort()).toEqual([
      "Some Long Name.txt",
      "firmware.bin",
    ]);
    expect(await v.read("FIRMWARE.BIN")).toEqual(data);
    await v.rename("firmware.bin", "FIRMWARE.CUR");
    expect(await v.remove("Some Long Name.txt")).toBe(true);
    expect(await v.remove("nothing.bin")).toBe(false);
    dev.save();
    expect(mdir(img).trim().split("\n")).toEqual(["::/FIRMWARE.CUR"]);
    expect(new Uint8Array(mtype(img, "FIRMWARE.CUR"))).toEqual(data);
    expect(fsck(img)).toBe("clean");
  });

  it("replacing a file frees the old clusters (fsck finds no lost chains)", async () => {
    const img = mkfs(bits, mib);
    const dev = imageDevice(img);
    const v = await FatVolume.open(dev, { now: NOW });
    await v.write("firmware.bin", randomBytes(50_000, 1));
    const second = randomBytes(20_000, 2);
    await v.write("firmware.bin", second);
    dev.save();
    expect(new Uint8Array(mtype(img, "firmware.bin"))).toEqual(second);
    expect(fsck(img)).toBe("clean");
  });
});

describe("FAT edge cases", () => {
  it("finds the volume in an MBR's first partition, as SD cards come formatted", async () => {
    const part = mkfs(32, 40);
    const fs = readFileSync(part);
    const card = new Uint8Array(2048 * 512 + fs.length);
    card.set(fs, 2048 * 512);
    const mbr = card.subarray(0, 512);
    mbr.set([0x00, 0, 0, 0, 0x0c, 0, 0, 0], 446); // status, CHS, type FAT32 LBA
    new DataView(card.buffer).setUint32(446 + 8, 2048, true);
    new DataView(card.buffer).setUint32(446 + 12, fs.length / 512, true);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    writeFileSync(part, card);
    const dev = imageDevice(part);
    const v = await FatVolume.open(dev);
    expect(v.layout.base).toBe(2048);
    await v.write("firmware.bin", randomBytes(1000, 9));
    dev.save();
    expect(
      execFileSync("mdir", ["-i", `${part}@@${2048 * 512}`, "-b", "::/"]).toString(),
    ).toContain("firmware.bin");
  });

  it("refuses a card without FAT, naming why", async () => {
    const dev = { read: async () => new Uint8Array(512), write: async () => undefined };
    await expect(FatVolume.open(dev)).rejects.toThrow(FatFormatError);
    await expect(FatVolume.open(dev)).rejects.toThrow(/no boot-sector signature/);
  });

  it("a full card is a FatFullError and leaves no file behind", async () => {
    const img = mkfs(12, 1);
    const dev = imageDevice(img);
    const v = await FatVolume.open(dev);
    await expect(v.write("firmware.bin", randomBytes(2 * 1024 * 1024, 1))).rejects.toThrow(
      FatFullError,
    );
    expect(await v.list()).toEqual([]);
    dev.save();
    expect(fsck(img)).toBe("clean");
  });

  it("a FAT32 root folder grows a cluster when its entries run out", async () => {
    const img = mkfs(32, 40, ["-s", "1"]);
    const dev = imageDevice(img);
    const v = await FatVolume.open(dev, { now: NOW });
    for (let i = 0; i < 20; i++)
      await v.write(`a-long-file-name-number-${i}.bin`, Uint8Array.of(i));
    dev.save();
    expect(mdir(img).trim().split("\n")).toHaveLength(20);
    expect(fsck(img)).toBe("clean");
  });
});
