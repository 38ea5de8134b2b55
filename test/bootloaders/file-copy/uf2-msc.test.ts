// Flashing through bootloader drives, as a person would with a file
// manager: the drive is found by its USB id and label among the fake
// tree's block devices, the image is copied (a .bin converted to UF2 with
// the row's family and base), and the drive model — flashing what lands and
// rebooting — takes it, goes away and comes back as Klipper.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bootloaderStatus } from "../../../src/flasher/board-ops.js";
import { parseUf2 } from "../../../src/flasher/image/uf2.js";
import { findTarget } from "../../../src/targets/index.js";
import { randomBytes } from "../../../src/util/random.js";
import { appImage } from "../../cli/helpers.js";
import { KLIPPER_USB } from "../../fakes/bootloader-drive.js";
import { fatGet } from "../../fakes/fat.js";
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

describe("UF2 drives", () => {
  it("RP2040: finds RPI-RP2 by USB id, writes a UF2 of the .bin, sees it leave and Klipper come back", async () => {
    rig = new Rig();
    const d = rig.mounted({
      usb: { ...RP2_USB, usbPath: "1-1.2" },
      label: "RPI-RP2",
      sizeBytes: 128 * MIB,
      files: { "INFO_UF2.TXT": RP2_INFO, "INDEX.HTM": "<html>" },
    });
    const m = rig.model(d, {
      kind: "uf2",
      family: 0xe48bff56,
      backAs: KLIPPER_USB,
      own: ["INFO_UF2.TXT", "INDEX.HTM"],
    });
    const img = rp2040Image();
    const out = await rig.flash("rp2040-uf2", rig.file("klipper.bin", img));
    expect(out.status).toBe("ok");
    expect(Buffer.from(m.image(0x10000000, img.length)).equals(Buffer.from(img))).toBe(true);
    // The copy itself: a UF2 of 256-byte pages at 0x10000000, every block family-tagged.
    const uf2 = parseUf2(new Uint8Array(readFileSync(join(d.mountDir!, "KLIPPER.UF2"))));
    expect(uf2.uf2FamilyId).toBe(0xe48bff56);
    expect(uf2.segments[0]!.address).toBe(0x10000000);
    const infos = rig.infos().join("\n");
    expect(infos).toMatch(/went away: the bootloader took the file/);
    expect(infos).toMatch(/back as Klipper \(1d50:614e\) on USB port 1-1\.2/);
    expect(out.status === "ok" && out.result.verified).toBe(false);
    expect(out.status === "ok" && out.result.device.unverified).toMatch(
      /cannot be verified by read-back/,
    );
  });

  it("RP2040 drive nobody mounted: the FAT image behind its device node is written with mtools", async () => {
    rig = new Rig();
    const d = rig.unmounted({
      usb: { ...RP2_USB, usbPath: "1-1.3" },
      label: "RPI-RP2",
      sizeBytes: 128 * MIB,
      files: { "INFO_UF2.TXT": RP2_INFO },
    });
    const m = rig.model(d, {
      kind: "uf2",
      family: 0xe48bff56,
      backAs: KLIPPER_USB,
      own: ["INFO_UF2.TXT"],
      pollMs: 40,
    });
    const img = rp2040Image(6000, 9);
    const out = await rig.flash("rp2040-uf2", rig.file("klipper.bin", img));
    expect(out.status === "failed" ? out.error : undefined).toBeUndefined();
    expect(out.status).toBe("ok");
    expect(m.rebooted).toBe(true);
    expect(Buffer.from(m.image(0x10000000, img.length)).equals(Buffer.from(img))).toBe(true);
    expect(fatGet(d.image!, "KLIPPER.UF2")!.length).toBe(Math.ceil(6000 / 256) * 512);
  });

  it("SAMD51: known by INFO_UF2.TXT's Board-ID; the .bin becomes UF2 at 0x4000 with the SAMD51 family", async () => {
    rig = new Rig();
    const d = rig.mounted({
      usb: { ...METRO_USB, usbPath: "3-1" },
      label: "METROM4BOOT",
      sizeBytes: 4 * MIB,
      files: { "INFO_UF2.TXT": METRO_INFO },
    });
    const m = rig.model(d, {
      kind: "uf2",
      family: 0x55114460,
      backAs: { ...KLIPPER_USB, product: "samd51j19a" },
      own: ["INFO_UF2.TXT"],
    });
    const img = await appImage(5000, 4, 0x4000);
    const out = await rig.flash("samd51-uf2", rig.file("klipper.bin", img));
    expect(out.status).toBe("ok");
    expect([...m.flash.keys()].sort((a, b) => a - b)[0]).toBe(0x4000);
    expect(Buffer.from(m.image(0x4000, img.length)).equals(Buffer.from(img))).toBe(true);
    expect(out.status === "ok" && out.result.device.mcu).toBe("samd51j19a");
  });

  it("an RP2040 image without a Klipper dictionary: boot2 first, the vector table at 0x100", async () => {
    rig = new Rig();
    const d = rig.mounted({
      usb: { ...RP2_USB, usbPath: "1-5" },
      label: "RPI-RP2",
      sizeBytes: 128 * MIB,
      files: { "INFO_UF2.TXT": RP2_INFO },
    });
    const m = rig.model(d, {
      kind: "uf2",
      family: 0xe48bff56,
      backAs: KLIPPER_USB,
      own: ["INFO_UF2.TXT"],
    });
    const img = randomBytes(4096, 12); // boot2: no stack pointer in its first word
    const dv = new DataView(img.buffer);
    dv.setUint32(0, 0x4b32b500, true);
    dv.setUint32(0x100, 0x20042000, true);
    dv.setUint32(0x104, 0x100001f7, true);
    const out = await rig.flash("rp2040-uf2", rig.file("plain.bin", img));
    expect(out.status).toBe("ok");
    expect(Buffer.from(m.image(0x10000000, img.length)).equals(Buffer.from(img))).toBe(true);
    // Garbage where the vector table belongs: no image, refused.
    dv.setUint32(0x100, 0x4b32b500, true);
    rig.mounted({
      usb: { ...RP2_USB, usbPath: "1-5" },
      label: "RPI-RP2",
      sizeBytes: 128 * MIB,
      files: { "INFO_UF2.TXT": RP2_INFO },
    });
    const bad = await rig.flash("rp2040-uf2", rig.file("bad.bin", img));
    expect(bad.status).toBe("failed");
  });

  it("status reads the drive's INFO_UF2.TXT", async () => {
    rig = new Rig();
    const d = rig.mounted({
      usb: { ...RP2_USB, usbPath: "1-6" },
      label: "RPI-RP2",
      sizeBytes: 128 * MIB,
      files: { "INFO_UF2.TXT": RP2_INFO },
    });
    const s = await bootloaderStatus(
      { link: { kind: "drive" }, target: findTarget("rp2040-uf2") },
      {
        klipper: {
          stopKlipper: false,
          cwd: rig.dir,
          host: { systemctl: null, moonrakerUrl: null, socketPaths: [] },
        },
        ...rig.tree.roots,
        lockDir: rig.dir,
      },
    );
    expect(s.fields).toEqual([
      { label: "Drive", value: d.mountDir },
      { label: "Label", value: "RPI-RP2" },
      { label: "USB id", value: "2e8a:0003" },
      { label: "Bootloader", value: "UF2 Bootloader v3.0" },
      { label: "Model", value: "Raspberry Pi RP2" },
      { label: "Board-ID", value: "RPI-RP2" },
    ]);
  });

  it("a UF2 of another chip family is refused before the drive is touched", async () => {
    rig = new Rig();
    const d = rig.mounted({
      usb: { ...RP2_USB, usbPath: "1-4" },
      label: "RPI-RP2",
      sizeBytes: 128 * MIB,
      files: { "INFO_UF2.TXT": RP2_INFO },
    });
    // RP2040 addresses, SAMD51 family: the drive would ignore every block.
    const pages = rp2040Image(2048);
    const uf2 = new Uint8Array(4 * 512);
    const dv = new DataView(uf2.buffer);
    for (let i = 0; i < 4; i++) {
      const o = i * 512;
      dv.setUint32(o, 0x0a324655, true);
      dv.setUint32(o + 4, 0x9e5d5157, true);
      dv.setUint32(o + 8, 0x2000, true);
      dv.setUint32(o + 12, 0x10000000 + i * 256, true);
      dv.setUint32(o + 16, 256, true);
      dv.setUint32(o + 20, i, true);
      dv.setUint32(o + 24, 4, true);
      dv.setUint32(o + 28, 0x55114460, true);
      uf2.set(pages.subarray(i * 256, i * 256 + 256), o + 32);
      dv.setUint32(o + 508, 0x0ab16f30, true);
    }
    const out = await rig.flash("rp2040-uf2", rig.file("other.uf2", uf2));
    expect(out.status).toBe("failed");
    expect(
      out.status === "failed" && (out.error as { cause?: { code?: string } }).cause?.code,
    ).toBe("PREFLIGHT_UF2_FAMILY");
    expect(rig.ls(d)).toEqual(["INFO_UF2.TXT"]);
  });
});

describe("MSC bootloader drive", () => {
  it("copies the .bin as it is; the bootloader takes it, leaves, and the board comes back", async () => {
    rig = new Rig();
    const d = rig.mounted({
      usb: { ...MSC_USB, usbPath: "1-1" },
      label: "MSC BOOT",
      sizeBytes: 2 * MIB,
    });
    const m = rig.model(d, {
      kind: "msc",
      backAs: { ...KLIPPER_USB, product: "stm32f103xe" },
    });
    const img = await appImage(9000, 5, 0x08002000);
    const out = await rig.flash("stm32-msc", rig.file("klipper.bin", img));
    expect(out.status).toBe("ok");
    expect(Buffer.from(m.flash.get(0)!).equals(Buffer.from(img))).toBe(true);
    expect(rig.infos().join("\n")).toMatch(/back as Klipper/);
  });

  it("an image that does not start with a stack pointer is refused (the bootloader would skip into it)", async () => {
    rig = new Rig();
    const d = rig.mounted({ usb: { ...MSC_USB, usbPath: "1-1" }, sizeBytes: 2 * MIB });
    const img = await appImage(4096, 6, 0x08002000);
    new DataView(img.buffer).setUint32(0, 0x08004000, true); // an address in flash, not RAM
    const out = await rig.flash("stm32-msc", rig.file("bad.bin", img));
    expect(out.status).toBe("failed");
    expect(rig.ls(d)).toEqual([]);
  });
});
