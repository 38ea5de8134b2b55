// `canflash demo-image`: a Klipper-like image every check accepts, for the
// quick start and CI on the demo bus; random bytes are refused as they
// would be on a real board.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findImageDictionary } from "../../src/klippy-bridge/dictionary.js";
import { randomBytes } from "../../src/util/random.js";
import { uf2FromBin } from "../flasher/image/helpers.js";
import { canflash } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-demo-"));

describe("canflash demo-image", () => {
  it("writes a build with a vector table and a dictionary that the demo bus flashes", async () => {
    const out = join(dir, "klipper.bin");
    const w = await canflash(["demo-image", "-o", out]);
    expect(w.code, w.stderr).toBe(0);
    const bytes = new Uint8Array(readFileSync(out));
    const dv = new DataView(bytes.buffer, bytes.byteOffset, 8);
    expect(dv.getUint32(0, true) >>> 28).toBe(2); // initial SP in SRAM
    expect(dv.getUint32(4, true) & 1).toBe(1); // Thumb reset handler
    const dict = findImageDictionary(bytes)?.dictionary;
    expect(dict).toMatchObject({
      mcu: "stm32g0b1xx",
      transport: "can",
      canbusFrequency: 1_000_000,
    });
    const r = await canflash(["-i", "sim", "-u", "8266c4636429", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Klipper v0\.12\.0-demo for stm32g0b1xx, can at 1000000 bit\/s/);
    expect(r.stdout).toMatch(/Programming Complete/);
  });

  it("takes the MCU and bitrate: a 500 kbit/s build is refused by the 1 Mbit/s demo bus", async () => {
    const out = join(dir, "k500.bin");
    expect((await canflash(["demo-image", "-o", out, "--bitrate", "500000"])).code).toBe(0);
    const r = await canflash(["-i", "sim", "-u", "8266c4636429", out]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/talks CAN at 500000 bit\/s, but sim runs at 1000000/);
  });

  it("random bytes are no image: exit 6, nothing written, and the way to a demo image", async () => {
    const rnd = join(dir, "random.bin");
    writeFileSync(rnd, randomBytes(20_000, 5));
    const r = await canflash(["-i", "sim", "-u", "8266c4636429", rnd]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/no firmware image linked for 0x8002000/);
    expect(r.stderr).toMatch(/canflash demo-image -o klipper.bin/);
  });

  it("a UF2 of another chip family (RP2040 for an STM32G0) is refused before writing", async () => {
    const out = join(dir, "g0.bin");
    expect((await canflash(["demo-image", "-o", out, "--size", "8192"])).code).toBe(0);
    const uf2 = join(dir, "wrong.uf2");
    writeFileSync(uf2, uf2FromBin(new Uint8Array(readFileSync(out)), 0x08002000, 0xe48bff56));
    const r = await canflash(["-i", "sim", "-u", "8266c4636429", uf2]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/the UF2 is for chip family 0xe48bff56, but the board is stm32g0b1xx/);
  });

  it("refuses bad values", async () => {
    const r = await canflash(["demo-image", "-o", join(dir, "x.bin"), "--transport", "spi"]);
    expect(r.code).toBe(2);
    const n = await canflash(["demo-image"]);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/--output/);
  });
});
