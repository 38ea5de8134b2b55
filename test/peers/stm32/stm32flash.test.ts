// The real peer: Debian's stm32flash 0.7 drives the STM32 ROM model on a
// pty the way the seed runs it (`-m 8n1 -w fw.bin -v -g 0`: a pty has no
// parity), and canflash flashes another fresh model with the same image;
// both dumps must be the image (and identical), stm32flash's "verified"
// claim must hold, and both must start the firmware. A model stm32flash
// could not drive to "verified" would not be faithful. The bad case: a
// readout-protected chip — canflash refuses (exit 6) and writes nothing;
// stm32flash fails on it too and changes nothing. Run with `npm run test:peers`.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as sim from "../../../src/sim/stm32/index.js";
import { klipperImage } from "../../../src/sim/klipper-image.js";
import { preciseClock } from "../../../src/util/clock.js";
import { armImage, intelHex } from "../../bootloaders/stm32-usart/images.js";
import { canflash } from "../../cli/helpers.js";
import {
  haveStm32flash,
  removeTemps,
  startRom,
  stm32flash,
  STM32FLASH_TIMEOUT_MS,
  writeTemp,
  type RomOnPty,
} from "./harness.mjs";

const BASE = 0x08000000;
const boards: RomOnPty[] = [];
afterEach(async () => {
  await Promise.all(boards.splice(0).map((b) => b.stop()));
});
afterAll(removeTemps);

beforeAll(async () => {
  // The lane exists to run the real tool: missing, it fails (CI installs it), it does not skip.
  expect(await haveStm32flash(), "stm32flash is not installed: apt-get install stm32flash").toBe(
    true,
  );
});

async function rom(o: Parameters<typeof startRom>[2]): Promise<RomOnPty> {
  const b = await startRom(sim, preciseClock, o);
  boards.push(b);
  return b;
}

const changes = (b: RomOnPty) =>
  b.rom.events.filter(
    (e) => e.type === "erase" || e.type === "write" || e.type === "go" || e.type === "protection",
  );

const cases = [
  {
    name: "F103 medium density (0x410, ERASE), a 21 KiB Klipper build",
    preset: "f103",
    target: "stm32f103-rom-serial",
    image: klipperImage({
      mcu: "stm32f103xe",
      transport: "serial",
      appStart: BASE,
      size: 21 * 1024 + 77,
      seed: 3,
    }),
    name2: "klipper.bin",
  },
  {
    name: "F103, a 7 KiB bootloader image (as Katapult or stm32duino are installed)",
    preset: "f103",
    target: "stm32f103-rom-serial",
    image: armImage({ size: 7 * 1024 + 3, linkedAt: BASE, seed: 9 }),
    name2: "bootloader.bin",
  },
  {
    name: "F407 (0x413, EXTENDED_ERASE over sectors), a 40 KiB image",
    preset: "f407",
    target: "stm32f4-rom-serial",
    image: armImage({ size: 40_000, linkedAt: BASE, vectorWords: 98, seed: 4 }),
    name2: "hid_bootloader.bin",
  },
] as const;

describe.each(cases)("$name", ({ preset, target, image, name2 }) => {
  it(
    "stm32flash -m 8n1 -w -v -g 0 and canflash leave the same flash, the image; both verify and start it",
    async () => {
      const file = writeTemp(name2, image);
      const theirs = await rom({ preset });
      const out = await stm32flash(["-m", "8n1", "-w", file, "-v", "-g", "0", theirs.port]);
      expect(out.code, out.out).toBe(0);
      expect(out.out).toMatch(/Device ID\s*:\s*0x04(10|13)/);
      expect(out.out).toMatch(/Wrote and verified address 0x0800[0-9a-f]{4} \(100\.00%\) Done\./);
      expect(out.out).toMatch(/Starting execution at address 0x08000000\.\.\. done\./);
      const theirDump = Buffer.from(theirs.rom.flash());
      // stm32flash's claim holds: the image is in flash, the rest erased.
      expect(theirDump.subarray(0, image.length).equals(Buffer.from(image))).toBe(true);
      expect(theirDump.subarray(image.length).every((x) => x === 0xff)).toBe(true);
      expect(theirs.rom.events.at(-1)).toMatchObject({ type: "go", address: BASE, runs: true });

      const ours = await rom({ preset });
      const r = await canflash(
        ["--target", target, "-d", ours.port, "--serial-mode", "8n1", file],
        {
          timeoutMs: STM32FLASH_TIMEOUT_MS,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Wrote and verified ${image.length} bytes`));
      expect(Buffer.from(ours.rom.flash()).equals(theirDump)).toBe(true);
      expect(ours.rom.events.at(-1)).toMatchObject({ type: "go", address: BASE, runs: true });
      // Both erased exactly the units the image covers.
      const erased = (b: RomOnPty) => b.rom.events.filter((e) => e.type === "erase");
      expect(erased(ours)).toEqual(erased(theirs));
      expect(ours.rom.uart.overruns).toBe(0);
    },
    3 * STM32FLASH_TIMEOUT_MS,
  );
});

describe("other inputs and the bad case", () => {
  it(
    "an Intel HEX at 0x08000000: stm32flash and canflash agree",
    async () => {
      const image = armImage({ size: 5000, linkedAt: BASE, seed: 12 });
      const file = writeTemp("app.hex", new TextEncoder().encode(intelHex(BASE, image)));
      const theirs = await rom({ preset: "f103" });
      const out = await stm32flash(["-m", "8n1", "-w", file, "-v", "-g", "0", theirs.port]);
      expect(out.code, out.out).toBe(0);
      const ours = await rom({ preset: "f103" });
      const r = await canflash(
        ["--target", "stm32f103-rom-serial", "-d", ours.port, "--serial-mode", "8n1", file],
        {
          timeoutMs: STM32FLASH_TIMEOUT_MS,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(Buffer.from(ours.rom.flash()).equals(Buffer.from(theirs.rom.flash()))).toBe(true);
      expect(
        Buffer.from(ours.rom.flash().subarray(0, image.length)).equals(Buffer.from(image)),
      ).toBe(true);
    },
    3 * STM32FLASH_TIMEOUT_MS,
  );

  it(
    "a readout-protected F103: canflash refuses with exit 6 and STM32_READOUT_PROTECTED, writes nothing; stm32flash fails too",
    async () => {
      const old = armImage({ size: 4096, linkedAt: BASE, seed: 21 });
      const file = writeTemp("new.bin", armImage({ size: 3000, linkedAt: BASE, seed: 22 }));
      const ours = await rom({ preset: "f103", readoutProtected: true, initial: old });
      const r = await canflash(
        [
          "--target",
          "stm32f103-rom-serial",
          "-d",
          ours.port,
          "--serial-mode",
          "8n1",
          "--json",
          file,
        ],
        {
          timeoutMs: STM32FLASH_TIMEOUT_MS,
        },
      );
      expect(r.code).toBe(6);
      const result = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!) as {
        error: { code: string; next: string[] };
        boards: { error?: { deviceState?: string } }[];
      };
      expect(result.error.code).toBe("STM32_READOUT_PROTECTED");
      expect(result.error.next.join("\n")).toMatch(/stm32flash -k/);
      expect(result.boards[0]!.error?.deviceState).toBe("untouched");
      expect(changes(ours)).toEqual([]);
      expect(Buffer.from(ours.rom.flash().subarray(0, old.length)).equals(Buffer.from(old))).toBe(
        true,
      );

      const theirs = await rom({ preset: "f103", readoutProtected: true, initial: old });
      const out = await stm32flash(["-m", "8n1", "-w", file, "-v", "-g", "0", theirs.port]);
      expect(out.code).not.toBe(0);
      expect(changes(theirs)).toEqual([]);
      expect(Buffer.from(theirs.rom.flash().subarray(0, old.length)).equals(Buffer.from(old))).toBe(
        true,
      );
    },
    3 * STM32FLASH_TIMEOUT_MS,
  );
});
