// canflash as a user runs it (the built binary, spawned) against DFU device
// models served on Unix sockets (the socket USB backend, CANFLASH_USB_SOCKETS):
// a row alone finds its device by USB id; -d usb:<id>/usb:<serial> name one;
// -s reports; doctor and -q list the USB bootloaders with the command for
// each; a missing device is exit 3 naming what was looked for; the
// stm32duino says it could not verify.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DfuseRomModel } from "../../src/sim/usb/dfuse-rom.js";
import { Stm32duinoModel } from "../../src/sim/usb/plain-dfu.js";
import { serveUsbModel, type ServedModel } from "../../src/sim/usb/serve.js";
import type { UsbDeviceModel } from "../../src/usb/model.js";
import { appImage, canflash } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-usb-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let served: ServedModel[] = [];
afterEach(async () => {
  for (const s of served) await s.close();
  served = [];
});

let n = 0;
async function serve(...models: UsbDeviceModel[]): Promise<Record<string, string>> {
  const paths = models.map(() => join(dir, `dev${n++}.sock`));
  served = models.map((m, i) => serveUsbModel(m, paths[i]!));
  await Promise.all(served.map((s) => s.ready()));
  return { CANFLASH_USB_SOCKETS: paths.join(":"), CANFLASH_LOCK_DIR: dir };
}

async function file(
  name: string,
  size: number,
  at: number,
): Promise<{ path: string; img: Uint8Array }> {
  const img = await appImage(size, size, at);
  const path = join(dir, name);
  writeFileSync(path, img);
  return { path, img };
}

describe("canflash over USB DFU (spawned, socket backend)", () => {
  it("--target stm32f4-rom-dfu alone: finds 0483:df11, erases, writes, verifies, leaves, and says the board came back as Klipper", async () => {
    const m = new DfuseRomModel();
    const env = await serve(m);
    const { path, img } = await file("f4.bin", 30_000, 0x08000000);
    const r = await canflash(["--target", "stm32f4-rom-dfu", path], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Verification Complete: SHA = [0-9A-F]{40}/);
    expect(r.stdout).toMatch(/Programming Complete/);
    expect(m.dump(0x08000000, img.length)).toEqual(img);
    const erased = m.ops.filter((o) => o.op === "erase").length;
    expect(erased).toBe(2);
  });

  it("-d usb:<serial> with the stm32duino row: written in order, and the result says it could not be verified", async () => {
    const m = new Stm32duinoModel({ serialNumber: "MAPLE42" });
    const env = await serve(new DfuseRomModel(), m);
    const { path, img } = await file("duino.bin", 7000, 0x08002000);
    const r = await canflash(["--target", "stm32f103-stm32duino-dfu", "-d", "usb:MAPLE42", path], {
      env,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/this bootloader cannot read back, so the flash was not verified/);
    expect(r.stdout).not.toMatch(/Verification Complete/);
    expect(m.dump(0x08002000, img.length)).toEqual(img);
  });

  it("-s reports the DfuSe device; doctor and -q list it with the command that flashes it", async () => {
    const env = await serve(new DfuseRomModel({ serialNumber: "3568386B3132" }));
    const s = await canflash(["-s", "--target", "stm32f4-rom-dfu"], { env });
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/ROM DfuSe Connected/);
    expect(s.stdout).toMatch(
      /Device: STM32 {2}BOOTLOADER \(0483:df11, serial 3568386B3132\), ST DfuSe, alt 0 "@Internal Flash/,
    );
    expect(s.stdout).toMatch(/Transfer Size: 2048 bytes/);
    const d = await canflash(["doctor"], { env });
    expect(d.stdout).toMatch(
      /USB 0483:df11 at 1-1 \(serial 3568386B3132\): ROM DfuSe \([^)]*\); flash it: canflash --target <stm32f072-rom-dfu\|stm32f4-rom-dfu> -d usb:0483:df11 out\/klipper.bin/,
    );
    const q = await canflash(["-i", "sim", "-q"], { env });
    expect(q.stdout).toMatch(/USB 0483:df11 at 1-1: ROM DfuSe/);
  });

  it("no device: exit 3, naming the USB id looked for and nothing flashed; two rows for one id is a question", async () => {
    const env = await serve();
    const { path } = await file("none.bin", 4000, 0x08000000);
    const r = await canflash(["--target", "stm32f4-rom-dfu", path], {
      env: { ...env, CANFLASH_USB_SOCKETS: join(dir, "gone.sock") },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no USB device 0483:df11 is connected/);
    expect(r.stdout).not.toMatch(/Programming Complete/);
    const amb = await canflash(["-d", "usb:0483:df11", path], { env });
    expect(amb.code).toBe(2);
    expect(amb.stderr).toMatch(/--target stm32f072-rom-dfu or --target stm32f4-rom-dfu/);
  });
});
