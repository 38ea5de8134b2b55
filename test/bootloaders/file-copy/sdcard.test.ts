// An SD card in this computer, for a board whose bootloader reads
// firmware.bin at reset: the card is a real FAT file system (a mounted
// folder, or an image written with mtools). The copy goes through a
// temporary name; the old FIRMWARE.CUR is removed so that a new one proves
// this copy. The board is modelled as its bootloader does it: flash
// firmware.bin, delete the old current file, rename. Status then says
// whether the update was consumed.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bootloaderStatus } from "../../../src/flasher/board-ops.js";
import { findTarget } from "../../../src/targets/index.js";
import { appImage } from "../../cli/helpers.js";
import { fatGet, fatNames, fatRename } from "../../fakes/fat.js";
import { MIB, Rig } from "./helpers.js";

let rig: Rig;
afterEach(() => rig?.cleanup());

const READER = {
  vid: "0bda",
  pid: "0109",
  manufacturer: "Generic",
  product: "SD Reader",
  serial: "1",
};

const status = (r: Rig, target: string, device: string) =>
  bootloaderStatus(
    { link: { kind: "drive", device }, target: findTarget(target) },
    {
      klipper: {
        stopKlipper: false,
        cwd: r.dir,
        host: { systemctl: null, moonrakerUrl: null, socketPaths: [] },
      },
      ...r.tree.roots,
      lockDir: r.dir,
    },
  );

describe("SD card in the host", () => {
  it("mounted card: firmware.bin written whole, an old FIRMWARE.CUR removed; consumed once the board renames it", async () => {
    rig = new Rig();
    const d = rig.mounted({
      usb: { ...READER, usbPath: "1-1" },
      label: "PRINTER",
      sizeBytes: 8 * 1024 * MIB,
      files: { "FIRMWARE.CUR": "old image", "config.txt": "keep me" },
    });
    const img = await appImage(30000, 7, 0x4000);
    const out = await rig.flash("lpc176x-sdcard", rig.file("klipper.bin", img), {
      device: d.mountDir!,
    });
    expect(out.status).toBe("ok");
    expect(rig.ls(d)).toEqual(["config.txt", "firmware.bin"]);
    expect(
      Buffer.from(readFileSync(join(d.mountDir!, "firmware.bin"))).equals(Buffer.from(img)),
    ).toBe(true);
    // Not yet in the board: status says so, with the fix.
    await expect(status(rig, "lpc176x-sdcard", d.mountDir!)).rejects.toMatchObject({
      code: "SDCARD_NOT_CONSUMED",
      file: "firmware.bin",
    });
    // The board's bootloader at reset: flash, then rename.
    renameSync(join(d.mountDir!, "firmware.bin"), join(d.mountDir!, "FIRMWARE.CUR"));
    const s = await status(rig, "lpc176x-sdcard", d.mountDir!);
    expect(s.notes?.[0]).toMatch(/Update consumed/);
    expect(s.fields.find((f) => f.label === "FIRMWARE.CUR")?.value).toBe("30000 bytes");
  });

  it("a card image: written with mtools; a board that renames to OLD.BIN (FYSETC) is known by its row", async () => {
    rig = new Rig();
    const image = join(rig.dir, "card.img");
    const { makeFatImage } = await import("../../fakes/fat.js");
    makeFatImage(image, { label: "SPIDER", kib: 16384 });
    const img = await appImage(20000, 8, 0x08008000);
    const out = await rig.flash("fysetc-spider-sdcard", rig.file("klipper.bin", img), {
      device: image,
    });
    expect(out.status).toBe("ok");
    expect(fatNames(image).map((n) => n.toLowerCase())).toEqual(["firmware.bin"]); // FAT: any case
    expect(Buffer.from(fatGet(image, "firmware.bin")!).equals(Buffer.from(img))).toBe(true);
    fatRename(image, "firmware.bin", "OLD.BIN");
    const s = await status(rig, "fysetc-spider-sdcard", image);
    expect(s.fields.find((f) => f.label === "OLD.BIN")?.value).toBe("20000 bytes");
  });

  it("a board whose bootloader wants its own name (ZNP Robin Nano: ZNP_ROBIN_NANO.bin, .CUR)", async () => {
    rig = new Rig();
    const d = rig.mounted({ usb: { ...READER, usbPath: "1-3" }, sizeBytes: 8 * 1024 * MIB });
    const img = await appImage(16000, 10, 0x08008000);
    const out = await rig.flash("znp-robin-nano-dw-v2-sdcard", rig.file("klipper.bin", img), {
      device: d.mountDir!,
    });
    expect(out.status).toBe("ok");
    expect(rig.ls(d)).toEqual(["ZNP_ROBIN_NANO.bin"]);
    renameSync(join(d.mountDir!, "ZNP_ROBIN_NANO.bin"), join(d.mountDir!, "ZNP_ROBIN_NANO.CUR"));
    const s = await status(rig, "znp-robin-nano-dw-v2-sdcard", d.mountDir!);
    expect(s.fields.find((f) => f.label === "ZNP_ROBIN_NANO.CUR")?.value).toBe("16000 bytes");
  });

  it("an image built for another bootloader offset is refused and the card left alone", async () => {
    rig = new Rig();
    const d = rig.mounted({ usb: { ...READER, usbPath: "1-2" }, sizeBytes: 8 * 1024 * MIB });
    writeFileSync(join(d.mountDir!, "firmware.bin"), "previous update");
    // Linked for 0x08007000 (SKR Mini E3 V2), given to an Octopus (0x08008000).
    const img = await appImage(20000, 9, 0x08007000);
    const out = await rig.flash("btt-octopus-sdcard", rig.file("klipper.bin", img), {
      device: d.mountDir!,
    });
    expect(out.status).toBe("failed");
    expect(readFileSync(join(d.mountDir!, "firmware.bin"), "utf8")).toBe("previous update");
  });
});
