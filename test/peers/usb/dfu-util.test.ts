// The real dfu-util 0.11 (Debian) through the stand-in libusb against a
// fresh DFU model, then canflash (the built binary, socket backend) against
// another fresh model with the same image: the two flash dumps must be
// identical, byte for byte, over the whole flash. The seed's commands:
//   dfu-util -d 0483:df11 -a 0 -s 0x08000000:leave -D fw.bin   (STM32 ROM DfuSe)
//   dfu-util -d 1eaf:0003 -a 2 -R -D fw.bin                     (stm32duino)
import { afterAll, describe, expect, it } from "vitest";
import { DfuseRomModel, STM32F072_ROM } from "../../../src/sim/usb/dfuse-rom.js";
import { Lpc176xDfuModel, Stm32duinoModel } from "../../../src/sim/usb/plain-dfu.js";
import type { UsbDeviceModel } from "../../../src/usb/model.js";
import { appImage, canflash } from "../../cli/helpers.js";
import { runTool, serveModels, writeTemp } from "./harness.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * dfu-util's -R resets a device that has already left (after :leave, or
 * after the reset it sends in dfuMANIFEST-WAIT-RESET): libusb says
 * LIBUSB_ERROR_NOT_FOUND, which dfu-util 0.11 returns as its exit status
 * (-5 → 251), as with a real board. The download itself is what counts.
 */
const RESET_AFTER_LEAVING = 251;

/** Byte-for-byte equal (toEqual on a MiB walks every element for seconds). */
const same = (x: Uint8Array, y: Uint8Array) => Buffer.from(x).equals(Buffer.from(y));

const dir = mkdtempSync(join(tmpdir(), "canflash-dfu-peer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function withServed<T>(m: UsbDeviceModel, fn: (env: Record<string, string>) => Promise<T>) {
  const s = await serveModels([m]);
  try {
    return await fn({ ...s.env, CANFLASH_LOCK_DIR: s.dir });
  } finally {
    await s.close();
  }
}

describe("dfu-util and canflash write the same flash", () => {
  it("STM32F4 ROM DfuSe: dfu-util -a 0 -s 0x08000000:leave -D and canflash --target stm32f4-rom-dfu leave identical 1 MiB dumps", async () => {
    const img = await appImage(40_000, 13, 0x08000000);
    const fw = writeTemp(dir, "f4.bin", img);
    const a = new DfuseRomModel();
    const tool = await withServed(a, (env) =>
      runTool("dfu-util", ["-d", "0483:df11", "-a", "0", "-s", "0x08000000:leave", "-D", fw], env),
    );
    expect(tool.code, tool.stdout + tool.stderr).toBe(0);
    expect(tool.stdout).toMatch(/File downloaded successfully/);
    const b = new DfuseRomModel();
    const ours = await withServed(b, (env) =>
      canflash(["--target", "stm32f4-rom-dfu", fw], { env }),
    );
    expect(ours.stderr).toBe("");
    expect(ours.code).toBe(0);
    expect(ours.stdout).toMatch(/Verification Complete/);
    expect(same(b.dump(0x08000000, 0x100000), a.dump(0x08000000, 0x100000))).toBe(true);
    expect(b.dump(0x08000000, img.length)).toEqual(img);
    // the same sectors erased, each once
    const erased = (m: DfuseRomModel) =>
      m.ops.filter((o) => o.op === "erase").map((o) => o.address);
    expect(erased(b)).toEqual(erased(a));
  });

  it("STM32F072 ROM DfuSe (2 KiB pages): the seed's dfu-util -a 0 -R -D … -s0x08000000:leave and canflash agree", async () => {
    const img = await appImage(9000, 5, 0x08000000);
    const fw = writeTemp(dir, "f072.bin", img);
    const a = new DfuseRomModel({ part: STM32F072_ROM });
    const tool = await withServed(a, (env) =>
      runTool(
        "dfu-util",
        ["-d", "0483:df11", "-a", "0", "-R", "-D", fw, "-s0x08000000:leave"],
        env,
      ),
    );
    expect([0, RESET_AFTER_LEAVING], tool.stdout + tool.stderr).toContain(tool.code);
    expect(tool.stdout).toMatch(/File downloaded successfully/);
    const b = new DfuseRomModel({ part: STM32F072_ROM });
    const ours = await withServed(b, (env) =>
      canflash(["--target", "stm32f072-rom-dfu", fw], { env }),
    );
    expect(ours.code).toBe(0);
    expect(same(b.dump(0x08000000, 0x20000), a.dump(0x08000000, 0x20000))).toBe(true);
  });

  it("stm32duino: dfu-util -d 1eaf:0003 -a 2 -R -D ends in dfuMANIFEST-WAIT-RESET and a reset; canflash --target stm32f103-stm32duino-dfu leaves the same 64 KiB", async () => {
    const img = await appImage(10_500, 21, 0x08002000);
    const fw = writeTemp(dir, "duino.bin", img);
    const a = new Stm32duinoModel();
    const tool = await withServed(a, (env) =>
      runTool("dfu-util", ["-d", "1eaf:0003", "-a", "2", "-R", "-D", fw], env),
    );
    expect([0, RESET_AFTER_LEAVING], tool.stdout + tool.stderr).toContain(tool.code);
    expect(tool.stdout).toMatch(/Download done/);
    expect(`${tool.stdout}${tool.stderr}`).toMatch(/dfuMANIFEST-WAIT-RESET|Resetting USB/);
    expect(a.resets).toBeGreaterThan(0);
    const b = new Stm32duinoModel();
    const ours = await withServed(b, (env) =>
      canflash(["--target", "stm32f103-stm32duino-dfu", fw], { env }),
    );
    expect(ours.code).toBe(0);
    expect(ours.stdout).toMatch(/not verified/);
    expect(same(b.dump(0x08000000, 0x10000), a.dump(0x08000000, 0x10000))).toBe(true);
    expect(b.dump(0x08002000, img.length)).toEqual(img);
  });

  it("LPC176x DFU (Klipper's make flash: dfu-util -d 1d50:6015 -D): dfu-util and canflash --target lpc176x-dfu leave the same 512 KiB", async () => {
    const img = await appImage(6000, 9, 0x4000);
    const fw = writeTemp(dir, "lpc.bin", img);
    const a = new Lpc176xDfuModel();
    const tool = await withServed(a, (env) =>
      runTool("dfu-util", ["-d", "1d50:6015", "-D", fw], env),
    );
    expect(tool.code, tool.stdout + tool.stderr).toBe(0);
    expect(tool.stdout).toMatch(/Download done/);
    const b = new Lpc176xDfuModel();
    const ours = await withServed(b, (env) => canflash(["--target", "lpc176x-dfu", fw], { env }));
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.stdout).toMatch(/Verification Complete/);
    expect(same(b.dump(0, 0x80000), a.dump(0, 0x80000))).toBe(true);
    expect(b.dump(0x4000, img.length)).toEqual(img);
  });
});
