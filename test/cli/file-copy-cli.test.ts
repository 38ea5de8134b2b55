// canflash as a user runs it (the built binary) on file-copy rows, against
// real FAT images made with mkfs.vfat and read with mtools: an SD card for
// an LPC176x board (copy, check before and after the board took it), a UF2
// drive's image, and the bad inputs — each with its exit code, and the
// image left as it was.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseUf2 } from "../../src/flasher/image/uf2.js";
import { fatGet, fatNames, fatRename, makeFatImage } from "../fakes/fat.js";
import { appImage, canflash } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-copy-cli-"));
const RP2_INFO = "UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n";

async function bin(name: string, size: number, appStart: number, vectorAt = 0): Promise<string> {
  const img = await appImage(size, 11, appStart);
  if (vectorAt) img.set(img.subarray(0, 8), vectorAt);
  const p = join(dir, name);
  writeFileSync(p, img);
  return p;
}

describe("canflash on an SD card image", () => {
  it("writes firmware.bin, says it cannot read back, and -s checks FIRMWARE.CUR", async () => {
    const card = makeFatImage(join(dir, "card.img"), { label: "SKR", kib: 16384 });
    const file = await bin("klipper.bin", 24000, 0x4000);
    const r = await canflash(["--target", "lpc176x-sdcard", "-d", card, file]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/a file copy cannot be verified by read-back/);
    expect(r.stdout).toMatch(/Programming Complete/);
    expect(fatNames(card).map((n) => n.toLowerCase())).toEqual(["firmware.bin"]);
    expect(fatGet(card, "firmware.bin")!.length).toBe(24000);

    const before = await canflash(["--target", "lpc176x-sdcard", "-d", card, "-s"]);
    expect(before.code).toBe(1);
    expect(before.stderr).toMatch(
      /still on .*card\.img: the board's bootloader has not flashed it/,
    );

    fatRename(card, "firmware.bin", "FIRMWARE.CUR"); // what the board's bootloader does at reset
    const after = await canflash(["--target", "lpc176x-sdcard", "-d", card, "-s"]);
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/FIRMWARE\.CUR: 24000 bytes/);
    expect(after.stdout).toMatch(/Update consumed/);
  });
});

describe("canflash on a UF2 drive's image", () => {
  it("flash --target rp2040-uf2: a UF2 of the .bin with the RP2040 family lands on it", async () => {
    const drive = makeFatImage(join(dir, "rp2.img"), {
      label: "RPI-RP2",
      kib: 8192,
      files: { "INFO_UF2.TXT": RP2_INFO },
    });
    const file = await bin("rp.bin", 8192, 0x10000000, 0x100);
    const r = await canflash(["flash", "--target", "rp2040-uf2", "-d", drive, file]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/an image file cannot be watched/);
    const uf2 = parseUf2(fatGet(drive, "KLIPPER.UF2")!);
    expect(uf2.uf2FamilyId).toBe(0xe48bff56);
    expect(uf2.segments[0]).toMatchObject({ address: 0x10000000 });
    expect(uf2.segments[0]!.data.length).toBe(8192);
  });
});

describe("bad inputs: exit code, message, nothing written", () => {
  it("an SD-card row without a card", async () => {
    const r = await canflash(["--target", "lpc176x-sdcard", await bin("a.bin", 4096, 0x4000)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no card was given[\s\S]*-d \/media/);
  });

  it("a drive that is not the row's (its label)", async () => {
    const drive = makeFatImage(join(dir, "stick.img"), {
      label: "BACKUP",
      files: { "INFO_UF2.TXT": RP2_INFO },
    });
    const r = await canflash([
      "--target",
      "rp2040-uf2",
      "-d",
      drive,
      await bin("b.bin", 4096, 0x10000000, 0x100),
    ]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/volume label is BACKUP, expected RPI-RP2/);
    expect(fatNames(drive)).toEqual(["INFO_UF2.TXT"]);
  });

  it("a file that is no FAT image", async () => {
    const notFat = await bin("random.img", 65536, 0);
    const r = await canflash([
      "--target",
      "lpc176x-sdcard",
      "-d",
      notFat,
      await bin("c.bin", 4096, 0x4000),
    ]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/file system is no FAT boot sector/);
  });

  it("canflash targets lists the file-copy rows as flashed by this build", async () => {
    const r = await canflash(["targets", "--json"]);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { target?: { id: string; supported: boolean } })
      .flatMap((l) => (l.target ? [l.target] : []));
    for (const id of ["stm32-msc", "lpc176x-sdcard", "rp2040-uf2", "samd51-uf2"])
      expect(rows.find((x) => x.id === id)?.supported, id).toBe(true);
  });
});
