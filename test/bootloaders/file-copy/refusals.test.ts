// Drives canflash must not write: another USB stick, a drive without the
// bootloader's INFO_UF2.TXT or Board-ID, a read-only mount or device, two
// candidates, a folder that is no mount point. Each is a typed error with
// its facts, and the drive is left as it was.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { appImage } from "../../cli/helpers.js";
import {
  METRO_INFO,
  METRO_USB,
  MIB,
  MSC_USB,
  RP2_INFO,
  RP2_USB,
  Rig,
  rp2040Image,
} from "./helpers.js";

let rig: Rig;
afterEach(() => rig?.cleanup());

const causeOf = (out: Awaited<ReturnType<Rig["flash"]>>) =>
  out.status === "failed" ? ((out.error as { cause?: unknown }).cause ?? out.error) : undefined;

const rp2 = (extra: Partial<Parameters<Rig["mounted"]>[0]> = {}) => ({
  usb: { ...RP2_USB, usbPath: "1-2" },
  label: "RPI-RP2",
  sizeBytes: 128 * MIB,
  files: { "INFO_UF2.TXT": RP2_INFO },
  ...extra,
});

describe("refused drives: nothing written", () => {
  it.each([
    ["no INFO_UF2.TXT", rp2({ files: {} }), "no-info-uf2"],
    ["another volume label", rp2({ label: "BACKUP" }), "label"],
    ["a 32 GiB drive", rp2({ sizeBytes: 32 * 1024 * MIB }), "size"],
    ["another Board-ID", rp2({ files: { "INFO_UF2.TXT": METRO_INFO } }), "board-id"],
  ])("RP2040 row, %s", async (_what, drive, reason) => {
    rig = new Rig();
    const d = rig.mounted(drive);
    const before = rig.ls(d);
    const out = await rig.flash("rp2040-uf2", rig.file("k.bin", rp2040Image()), {
      device: d.mountDir!,
    });
    expect(out.status).toBe("failed");
    expect(causeOf(out)).toMatchObject({ code: "DRIVE_WRONG", reason, target: "rp2040-uf2" });
    expect(rig.ls(d)).toEqual(before);
  });

  it("MSC row, a SanDisk stick given by its mount point: refused by its USB id", async () => {
    rig = new Rig();
    const d = rig.mounted({
      usb: {
        vid: "0781",
        pid: "5567",
        manufacturer: "SanDisk",
        product: "Cruzer",
        serial: "4C5",
        usbPath: "2-1",
      },
      label: "STICK",
      sizeBytes: 16 * 1024 * MIB,
    });
    const out = await rig.flash("stm32-msc", rig.file("k.bin", await appImage(4096, 1)), {
      device: d.mountDir!,
    });
    expect(causeOf(out)).toMatchObject({
      code: "DRIVE_WRONG",
      reason: "usb-id",
      expected: "1209:db42",
      found: "0781:5567",
    });
    expect(rig.ls(d)).toEqual([]);
  });

  it("SAMD51 row, a SAMD21 bootloader drive: refused by its Board-ID", async () => {
    rig = new Rig();
    const d = rig.mounted({
      usb: { ...METRO_USB, usbPath: "2-2" },
      label: "ZEROBOOT",
      sizeBytes: 4 * MIB,
      files: {
        "INFO_UF2.TXT": "UF2 Bootloader v3.7.0\nModel: Zero\nBoard-ID: SAMD21G18A-Zero-v0\n",
      },
    });
    const out = await rig.flash("samd51-uf2", rig.file("k.bin", await appImage(4096, 1, 0x4000)));
    expect(causeOf(out)).toMatchObject({
      code: "DRIVE_WRONG",
      reason: "board-id",
      found: "SAMD21G18A-Zero-v0",
    });
    expect(rig.ls(d)).toEqual(["INFO_UF2.TXT"]);
  });

  it("mounted read-only, and a read-only block device (an SD card's lock switch)", async () => {
    rig = new Rig();
    const ro = rig.mounted(rp2({ mountOptions: "ro,nosuid" }));
    const out1 = await rig.flash("rp2040-uf2", rig.file("k.bin", rp2040Image()), {
      device: ro.mountDir!,
    });
    expect(causeOf(out1)).toMatchObject({ code: "DRIVE_READ_ONLY", where: "mount" });
    const locked = rig.mounted({
      usb: { ...MSC_USB, usbPath: "1-3" },
      sizeBytes: 32 * MIB,
      readOnly: true,
    });
    const out2 = await rig.flash(
      "lpc176x-sdcard",
      rig.file("l.bin", await appImage(4096, 2, 0x4000)),
      {
        device: locked.mountDir!,
      },
    );
    expect(causeOf(out2)).toMatchObject({ code: "DRIVE_READ_ONLY", where: "device" });
    expect(rig.ls(ro)).toEqual(["INFO_UF2.TXT"]);
    expect(rig.ls(locked)).toEqual([]);
  });

  it("two RPI-RP2 drives: which one is not guessed", async () => {
    rig = new Rig();
    const a = rig.mounted(rp2({ usb: { ...RP2_USB, usbPath: "1-5" } }));
    const b = rig.mounted(rp2({ usb: { ...RP2_USB, usbPath: "1-6", serial: "X" } }));
    const out = await rig.flash("rp2040-uf2", rig.file("k.bin", rp2040Image()));
    expect(causeOf(out)).toMatchObject({ code: "DRIVE_AMBIGUOUS" });
    expect((causeOf(out) as { drives: string[] }).drives).toHaveLength(2);
    expect([rig.ls(a), rig.ls(b)]).toEqual([["INFO_UF2.TXT"], ["INFO_UF2.TXT"]]);
  });

  it("a folder that is no mount point, and a file that is no FAT image", async () => {
    rig = new Rig();
    const folder = join(rig.dir, "just-a-folder");
    mkdirSync(folder);
    const out1 = await rig.flash(
      "lpc176x-sdcard",
      rig.file("l.bin", await appImage(4096, 2, 0x4000)),
      { device: folder },
    );
    expect(causeOf(out1)).toMatchObject({ code: "DRIVE_WRONG", reason: "not-a-drive" });
    const notFat = rig.file("random.img", await appImage(64 * 1024, 3));
    const out2 = await rig.flash(
      "lpc176x-sdcard",
      rig.file("l.bin", await appImage(4096, 2, 0x4000)),
      { device: notFat },
    );
    expect(causeOf(out2)).toMatchObject({ code: "DRIVE_WRONG", reason: "not-fat" });
  });

  it("an SD-card row without a card named", async () => {
    rig = new Rig();
    const out = await rig.flash(
      "lpc176x-sdcard",
      rig.file("l.bin", await appImage(4096, 2, 0x4000)),
    );
    expect(causeOf(out)).toMatchObject({ code: "DRIVE_NOT_GIVEN" });
  });
});
