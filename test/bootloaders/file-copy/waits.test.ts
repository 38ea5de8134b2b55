// The waits around a copy, each with its named deadline: the drive the
// person is asked to bring up (what to press is said), the drive leaving
// once the bootloader took the file, the board coming back on its port.
// Plus the dry run, which looks for the drive and changes nothing.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileCopyAdapter } from "../../../src/bootloaders/file-copy/adapter.js";
import { DriveTree } from "../../../src/bootloaders/file-copy/drives.js";
import { profileOf } from "../../../src/bootloaders/file-copy/profile.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { parseBin } from "../../../src/flasher/image/bin.js";
import { findTarget } from "../../../src/targets/index.js";
import { KLIPPER_USB } from "../../fakes/bootloader-drive.js";
import { fatNames } from "../../fakes/fat.js";
import { MIB, RP2_INFO, RP2_USB, Rig, rp2040Image } from "./helpers.js";

let rig: Rig;
afterEach(() => rig?.cleanup());

function adapterFor(r: Rig, o: Partial<ConstructorParameters<typeof FileCopyAdapter>[0]> = {}) {
  const target = findTarget("rp2040-uf2");
  return new FileCopyAdapter({
    target,
    link: { kind: "drive" },
    profile: profileOf(target),
    drives: new DriveTree({ sysRoot: r.tree.sys, procRoot: r.tree.proc, devRoot: r.tree.dev }),
    usb: r.tree.tree,
    ...o,
  });
}

const bin = (img: Uint8Array) => (d: { geometry: { start: number } }) =>
  parseBin(img, { base: d.geometry.start });

const drive = (usbPath: string) => ({
  usb: { ...RP2_USB, usbPath },
  label: "RPI-RP2",
  sizeBytes: 128 * MIB,
  files: { "INFO_UF2.TXT": RP2_INFO },
});

describe("waiting for the drive", () => {
  it("says exactly what to press, then flashes the drive that appears", async () => {
    rig = new Rig();
    const events: FlashEvent[] = [];
    const img = rp2040Image();
    const run = runFlash(adapterFor(rig), bin(img), { onEvent: (e) => events.push(e) });
    // The person presses BOOTSEL a moment after the prompt.
    await new Promise((r) => setTimeout(r, 400));
    const prompt = events.find((e) => e.type === "info" && e.data?.prompt);
    expect(prompt?.type === "info" && prompt.message).toMatch(/hold the BOOTSEL button/);
    const d = rig.mounted(drive("1-7"));
    const m = rig.model(d, {
      kind: "uf2",
      family: 0xe48bff56,
      backAs: KLIPPER_USB,
      own: ["INFO_UF2.TXT"],
    });
    await run;
    expect(Buffer.from(m.image(0x10000000, img.length)).equals(Buffer.from(img))).toBe(true);
  });

  it("a drive that appears unmounted and is automounted a moment later: written through the mount", async () => {
    rig = new Rig();
    const run = runFlash(adapterFor(rig, { automountGraceMs: 3000 }), bin(rp2040Image()));
    await new Promise((r) => setTimeout(r, 300));
    const d = rig.unmounted(drive("1-11"));
    await new Promise((r) => setTimeout(r, 400));
    const dir = join(rig.dir, "automount");
    mkdirSync(dir);
    writeFileSync(join(dir, "INFO_UF2.TXT"), RP2_INFO);
    rig.tree.mount("1-11", dir);
    const m = rig.model(d, {
      kind: "uf2",
      family: 0xe48bff56,
      backAs: KLIPPER_USB,
      own: ["INFO_UF2.TXT"],
    });
    await run;
    expect(m.rebooted).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["INFO_UF2.TXT", "KLIPPER.UF2"]);
    expect(fatNames(d.image!)).toEqual(["INFO_UF2.TXT"]); // the raw device was not written
  });

  it("a drive that never appears: MANUAL_ENTRY_TIMEOUT at the deadline", async () => {
    rig = new Rig();
    const err = await runFlash(adapterFor(rig, { appearTimeoutMs: 600 }), bin(rp2040Image())).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ phase: "enter", deviceState: "untouched" });
    expect((err as { cause: unknown }).cause).toMatchObject({
      code: "MANUAL_ENTRY_TIMEOUT",
      entry: "bootsel",
    });
  });
});

describe("after the copy", () => {
  it("a drive that stays (its bootloader ignores the blocks): DRIVE_STAYED at the deadline", async () => {
    rig = new Rig();
    const d = rig.mounted(drive("1-8"));
    // A bootloader of another chip behind the right label: it flashes only its own family.
    const m = rig.model(d, { kind: "uf2", family: 0x68ed2b88, own: ["INFO_UF2.TXT"] });
    const err = await runFlash(adapterFor(rig, { goneTimeoutMs: 500 }), bin(rp2040Image())).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ phase: "finish" });
    expect((err as { cause: unknown }).cause).toMatchObject({
      code: "DRIVE_STAYED",
      timeoutMs: 500,
    });
    expect(m.rebooted).toBe(false);
  });

  it("a board that does not come back on USB (a CAN build): said, not failed", async () => {
    rig = new Rig();
    const d = rig.mounted(drive("1-9"));
    rig.model(d, { kind: "uf2", family: 0xe48bff56, backAs: null, own: ["INFO_UF2.TXT"] });
    const events: FlashEvent[] = [];
    const r = await runFlash(adapterFor(rig, { backTimeoutMs: 300 }), bin(rp2040Image()), {
      onEvent: (e) => events.push(e),
    });
    expect(r.verified).toBe(false);
    const last = events.filter((e) => e.type === "info").at(-1);
    expect(last?.type === "info" && last.message).toMatch(/did not come back on USB port 1-9/);
  });
});

describe("dry run", () => {
  it("with the drive there: plans the UF2 blocks and writes nothing", async () => {
    rig = new Rig();
    const d = rig.mounted(drive("1-10"));
    const out = await rig.flash("rp2040-uf2", rig.file("k.bin", rp2040Image(4096)), {
      dryRun: true,
    });
    expect(out.status).toBe("dry-run");
    expect(out.status === "dry-run" && out.result?.plan.blocks.length).toBe(16);
    expect(rig.ls(d)).toEqual(["INFO_UF2.TXT"]);
  });

  it("without it: stops where a real run would prompt", async () => {
    rig = new Rig();
    const out = await rig.flash("rp2040-uf2", rig.file("k.bin", rp2040Image(4096)), {
      dryRun: true,
    });
    expect(out.status).toBe("dry-run");
    expect(out.status === "dry-run" && out.stop?.wouldDo).toMatch(/BOOTSEL/);
  });
});

describe("how a drive that stays is worded", () => {
  it("says the file is on the drive and not taken (not 'verified')", async () => {
    const { explain } = await import("../../../src/cli/hints/index.js");
    const { FlashError } = await import("../../../src/flasher/errors.js");
    const { DriveStayedError } = await import("../../../src/bootloaders/file-copy/errors.js");
    const e = new FlashError({
      phase: "finish",
      deviceState: "unknown",
      protocol: "uf2",
      cause: new DriveStayedError("/media/pi/RPI-RP2", 10_000, "uf2"),
      bootloaderStartsApplication: false,
    });
    const x = explain(e, { iface: "can0" });
    expect(x.exitCode).toBe(1);
    expect(x.causes[0]).toMatch(/on the drive, but the bootloader has not taken it/);
    expect(x.causes.join("\n")).not.toMatch(/verified/);
    expect(x.causes.join("\n")).toMatch(/another chip family/);
  });
});
