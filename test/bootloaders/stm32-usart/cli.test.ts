// canflash --target stm32f103-rom-serial as users run it (in-process),
// against the STM32 ROM model on a pty: a flash end to end, a dry run that
// sends nothing that changes the chip, -s and -r, and the refusals that
// must write nothing (an application linked for Katapult's offset, an
// image above an empty flash start, readout protection) with their fixes.
// The Raspberry Pi mini UART refusal runs through the library with a fake
// sysfs; the target choice without --target never guesses the ROM row.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import * as c from "../../../src/bootloaders/stm32-usart/codec.js";
import { Stm32UartNoParityError } from "../../../src/bootloaders/stm32-usart/errors.js";
import { miniUartDriver } from "../../../src/bootloaders/stm32-usart/line.js";
import { explain } from "../../../src/cli/hints/index.js";
import { FlashError } from "../../../src/flasher/errors.js";
import { flashBoards } from "../../../src/flasher/flash-boards.js";
import { prepareRequests } from "../../../src/flasher/requests.js";
import * as sim from "../../../src/sim/stm32/index.js";
import { klipperImage } from "../../../src/sim/klipper-image.js";
import { findTarget } from "../../../src/targets/index.js";
import { UsbTree } from "../../../src/transport/usb-tree.js";
import { preciseClock } from "../../../src/util/clock.js";
import { runInProcess } from "../../cli/helpers.js";
import { removeTemps, startRom, writeTemp, type RomOnPty } from "../../peers/stm32/harness.mjs";
import { armImage, intelHex } from "./images.js";

const BASE = 0x08000000;
const ROW = "stm32f103-rom-serial";
/** A whole in-process flash of a few KiB at 57600 baud. */
const FLASH_MS = 30_000;

const boards: RomOnPty[] = [];
afterEach(async () => {
  await Promise.all(boards.splice(0).map((b) => b.stop()));
});
afterAll(removeTemps);

async function rom(o: Parameters<typeof startRom>[2] = { preset: "f103" }): Promise<RomOnPty> {
  const b = await startRom(sim, preciseClock, o);
  boards.push(b);
  return b;
}

const changed = (b: RomOnPty) =>
  b.rom.events.filter((e) => e.type === "erase" || e.type === "write" || e.type === "go");
const commands = (b: RomOnPty) =>
  b.rom.events.filter((e) => e.type === "command").map((e) => (e as { code: number }).code);

describe(`canflash --target ${ROW} -d <pty> --serial-mode 8n1`, () => {
  it(
    "flashes a Klipper build for stm32f103xe end to end: erase, write, verify, GO",
    async () => {
      const b = await rom();
      const img = klipperImage({
        mcu: "stm32f103xe",
        transport: "serial",
        appStart: BASE,
        size: 6000,
      });
      const file = writeTemp("klipper.bin", img);
      const r = await runInProcess(["--target", ROW, "-d", b.port, "--serial-mode", "8n1", file]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        /STM32 ROM bootloader 2\.2 on STM32F10x medium density \(0x410\), 64 KiB flash/,
      );
      expect(r.stdout).toMatch(/erasing 6 pages \(6 KiB\) from 0x8000000/);
      expect(r.stdout).toMatch(/set BOOT0 back to 0/);
      expect(r.stdout).toMatch(/Programming Complete/);
      const dump = b.rom.flash();
      expect(Buffer.from(dump.subarray(0, img.length)).equals(Buffer.from(img))).toBe(true);
      expect(dump.subarray(img.length).every((x) => x === 0xff)).toBe(true);
      expect(b.rom.events.at(-1)).toMatchObject({ type: "go", address: BASE, runs: true });
    },
    FLASH_MS,
  );

  it(
    "--dry-run: identifies and plans; no ERASE, WRITE or GO is sent",
    async () => {
      const b = await rom();
      const file = writeTemp("app.bin", armImage({ size: 4000, linkedAt: BASE }));
      const r = await runInProcess([
        "--target",
        ROW,
        "-d",
        b.port,
        "--serial-mode",
        "8n1",
        "--dry-run",
        file,
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Dry Run Complete/);
      expect(r.stdout).toMatch(/would write 16 blocks at 0x8000000\.\.0x8001000/);
      const cmds = commands(b);
      expect(cmds).toContain(c.Cmd.GET_ID);
      for (const bad of [c.Cmd.WRITE_MEMORY, c.Cmd.ERASE, c.Cmd.EXTENDED_ERASE, c.Cmd.GO])
        expect(cmds).not.toContain(bad);
      expect(changed(b)).toEqual([]);
    },
    FLASH_MS,
  );

  it(
    "-s reports the ROM's version, product id, protection and commands; -r is refused before the port opens",
    async () => {
      const b = await rom();
      const s = await runInProcess(["--target", ROW, "-d", b.port, "--serial-mode", "8n1", "-s"]);
      expect(s.code).toBe(0);
      expect(s.stdout).toMatch(/Bootloader Version\s*:?\s*2\.2/);
      expect(s.stdout).toMatch(/STM32F10x medium density \(0x410\)/);
      expect(s.stdout).toMatch(/Readout Protection\s*:?\s*off/);
      expect(s.stdout).toMatch(/EXTENDED_ERASE|ERASE \(0x43\)/);
      const r = await runInProcess(["--target", ROW, "-d", b.port, "-r"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot be asked into its bootloader/);
      expect(r.stderr).toMatch(/or says what to press/);
      expect(changed(b)).toEqual([]);
    },
    FLASH_MS,
  );
});

describe("--reset-sequence (stm32flash -i)", () => {
  it(
    "on a pty (no modem lines): exit 5 before any byte, the ROM sees no sync, the hint says to set BOOT0 by hand",
    async () => {
      const b = await rom();
      const file = writeTemp(
        "k-seq.bin",
        klipperImage({ mcu: "stm32f103xe", transport: "serial", appStart: BASE, size: 2000 }),
      );
      const r = await runInProcess([
        "--target",
        ROW,
        "-d",
        b.port,
        "--serial-mode",
        "8n1",
        "--reset-sequence",
        "-dtr&rts,dtr,-rts:-dtr&-rts,dtr",
        file,
      ]);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/refused to set DTR\/RTS/);
      expect(r.stderr).toMatch(/drop --reset-sequence and set BOOT0 and reset by hand/);
      expect(r.stderr).toMatch(/Nothing was written/i);
      expect(b.rom.count("sync")).toBe(0);
      expect(changed(b)).toEqual([]);
    },
    FLASH_MS,
  );
});

describe("canflash targets", () => {
  it("lists both STM32 ROM serial rows as flashable, with their baud and application start", async () => {
    const r = await runInProcess(["targets"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /stm32f103-rom-serial\s+stm32f103\s+stm32-usart\s+uart\s+57600\s+0x8000000\s+boot-pins\s+yes/,
    );
    expect(r.stdout).toMatch(
      /stm32f4-rom-serial\s+stm32f407\s+stm32-usart\s+uart\s+57600\s+0x8000000\s+boot-pins\s+yes/,
    );
  });
});

describe("refused with the fix, nothing written", () => {
  it(
    "an application linked for Katapult (0x08002000) as a .bin through the ROM: exit 6",
    async () => {
      const b = await rom();
      const app = armImage({ size: 12_000, linkedAt: 0x08002000, klipperMcu: "stm32f103xe" });
      const file = writeTemp("klipper-katapult.bin", app);
      const r = await runInProcess([
        "--target",
        ROW,
        "-d",
        b.port,
        "--serial-mode",
        "8n1",
        "--json",
        file,
      ]);
      expect(r.code).toBe(6);
      const result = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!) as {
        error: { code: string; next: string[] };
      };
      expect(["STM32_LINKED_FOR_OFFSET", "PREFLIGHT_OFFSET"]).toContain(result.error.code);
      const text = await runInProcess([
        "--target",
        ROW,
        "-d",
        b.port,
        "--serial-mode",
        "8n1",
        file,
      ]);
      expect(text.code).toBe(6);
      expect(text.stderr).toMatch(/No bootloader|Bootloader offset 0x0/);
      expect(text.stderr).toMatch(/Nothing was written/);
      expect(changed(b)).toEqual([]);
    },
    FLASH_MS,
  );

  it(
    "a HEX for 0x08002000 on a chip whose flash start is empty: exit 6, nothing would start it",
    async () => {
      const b = await rom();
      const hex = intelHex(0x08002000, armImage({ size: 3000, linkedAt: 0x08002000 }));
      const file = writeTemp("app.hex", new TextEncoder().encode(hex));
      const r = await runInProcess(["--target", ROW, "-d", b.port, "--serial-mode", "8n1", file]);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(
        /starts at 0x08002000 \(offset 0x2000\), but the flash below it holds nothing \(erased\)/,
      );
      expect(r.stderr).toMatch(/No bootloader/);
      expect(changed(b)).toEqual([]);
    },
    FLASH_MS,
  );

  it(
    "a readout-protected chip: exit 6, STM32_READOUT_PROTECTED, and how to remove the protection",
    async () => {
      const b = await rom({
        preset: "f103",
        readoutProtected: true,
        initial: new Uint8Array(1024).fill(0x42),
      });
      const file = writeTemp("app.bin", armImage({ size: 3000, linkedAt: BASE }));
      const r = await runInProcess(["--target", ROW, "-d", b.port, "--serial-mode", "8n1", file]);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/has readout protection on/);
      expect(r.stderr).toMatch(new RegExp(`stm32flash -k ${b.port}`));
      expect(r.stderr).toMatch(/erases the whole flash/);
      expect(r.stderr).toMatch(
        new RegExp(`retry: canflash --target ${ROW} -d ${b.port} --serial-mode 8n1 `),
      );
      const j = await runInProcess([
        "--target",
        ROW,
        "-d",
        b.port,
        "--serial-mode",
        "8n1",
        "--json",
        file,
      ]);
      expect(JSON.parse(j.stdout.trimEnd().split("\n").at(-1)!).error.code).toBe(
        "STM32_READOUT_PROTECTED",
      );
      const st = await runInProcess(["--target", ROW, "-d", b.port, "--serial-mode", "8n1", "-s"]);
      expect(st.code).toBe(0);
      expect(st.stdout).toMatch(/Readout Protection\s*:?\s*on/);
      expect(st.stdout).toMatch(/unreadable \(readout protection\)/);
      expect(changed(b)).toEqual([]);
      expect(b.rom.flash()[0]).toBe(0x42);
    },
    FLASH_MS,
  );
});

describe("the line", () => {
  const sys = mkdtempSync(join(tmpdir(), "canflash-stm32-sys-"));
  /** A tty as sysfs shows it: class/tty/<name> → <device>/tty/<name>, whose `device` is <device>. */
  const tty = (name: string, device: string, driver: string) => {
    const d = join(sys, "devices", device);
    mkdirSync(join(d, "tty", name), { recursive: true });
    const drv = join(sys, "bus", "platform", "drivers", driver);
    mkdirSync(drv, { recursive: true });
    symlinkSync(drv, join(d, "driver"));
    symlinkSync(d, join(d, "tty", name, "device"));
    mkdirSync(join(sys, "class", "tty"), { recursive: true });
    symlinkSync(join(d, "tty", name), join(sys, "class", "tty", name));
  };
  // A Raspberry Pi 4 on kernel 6.x: ttyS0 hangs off a serial-base "port" device below the mini UART.
  mkdirSync(join(sys, "devices", "platform", "soc", "fe215040.serial"), { recursive: true });
  mkdirSync(join(sys, "bus", "platform", "drivers", "bcm2835-aux-uart"), { recursive: true });
  symlinkSync(
    join(sys, "bus", "platform", "drivers", "bcm2835-aux-uart"),
    join(sys, "devices", "platform", "soc", "fe215040.serial", "driver"),
  );
  tty("ttyS0", "platform/soc/fe215040.serial/serial0/serial0.0", "port");
  tty("ttyAMA0", "platform/soc/fe201000.serial", "uart-pl011");
  // Older kernels bind the Pi's mini UART to the 8250 driver itself: known by the board's model.
  tty("ttyS1", "platform/soc/7e215040.serial", "serial8250");
  mkdirSync(join(sys, "firmware", "devicetree", "base"), { recursive: true });
  writeFileSync(
    join(sys, "firmware", "devicetree", "base", "model"),
    "Raspberry Pi 3 Model B Rev 1.2\0",
  );
  const dev = mkdtempSync(join(tmpdir(), "canflash-stm32-dev-"));
  writeFileSync(join(dev, "ttyS0"), "");

  it("sysfs names the mini UART's driver; the PL011 and a pty are not it", async () => {
    expect(await miniUartDriver("/dev/ttyS0", sys)).toEqual({
      tty: "ttyS0",
      driver: "bcm2835-aux-uart",
    });
    expect(await miniUartDriver("/dev/ttyS1", sys)).toEqual({ tty: "ttyS1", driver: "serial8250" });
    expect(await miniUartDriver("/dev/ttyAMA0", sys)).toBeUndefined();
    expect(await miniUartDriver("/dev/pts/3", sys)).toBeUndefined();
  });

  it("8E1 on the Pi's mini UART is refused before the port opens, with how to switch to ttyAMA0", async () => {
    const file = writeTemp("app.bin", armImage({ size: 1000, linkedAt: BASE }));
    const requests = await prepareRequests(
      [{ label: "pi", device: join(dev, "ttyS0"), iface: "can0", file, target: findTarget(ROW) }],
      { cwd: dev },
    );
    const [out] = await flashBoards(requests, {
      klipper: { stopKlipper: false, cwd: dev },
      usbTree: new UsbTree(sys),
    });
    expect(out!.status).toBe("failed");
    const e = (out as { error: Error }).error;
    expect(e).toBeInstanceOf(FlashError);
    expect((e as FlashError).cause).toBeInstanceOf(Stm32UartNoParityError);
    const x = explain(e, { iface: "can0" });
    expect(x.exitCode).toBe(5);
    expect(x.message).toMatch(
      /mini UART \(ttyS0, bcm2835-aux-uart\), which cannot do the even parity/,
    );
    expect(x.next.join("\n")).toMatch(/dtoverlay=disable-bt \(or dtoverlay=miniuart-bt\)/);
    expect(x.next.join("\n")).toMatch(/systemctl disable hciuart/);
    expect(x.next.join("\n")).toMatch(/\/dev\/ttyAMA0/);
  });

  it("a tty board without --target is never guessed to be the ROM row (Katapult stays the default)", async () => {
    for (const mcu of ["stm32f103xe", "stm32f407xx"]) {
      const file = writeTemp(
        `${mcu}.bin`,
        klipperImage({ mcu, transport: "serial", appStart: 0x08002000, size: 8192 }),
      );
      const [req] = await prepareRequests(
        [{ label: "x", device: "/dev/ttyACM0", iface: "can0", file }],
        { cwd: dev },
      );
      expect(req!.target.id).toBe("katapult");
    }
  });
});
