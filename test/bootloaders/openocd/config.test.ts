import { describe, expect, it } from "vitest";
import { swdChip } from "../../../src/bootloaders/openocd/chips.js";
import {
  cmsisDapConfig,
  gpioConfig,
  raspberryPiOf,
} from "../../../src/bootloaders/openocd/config.js";

describe("the OpenOCD config canflash writes", () => {
  it("is the seed's Raspberry Pi template in openocd 0.12's words", () => {
    const pi = raspberryPiOf("Raspberry Pi 4 Model B Rev 1.4\0")!;
    expect(pi.peripheralBase).toBe(0xfe000000);
    const text = gpioConfig({
      driver: "bcm2835gpio",
      pins: { swclk: 25, swdio: 24, srst: 18 },
      peripheralBase: pi.peripheralBase,
      speedCoeffs: pi.speedCoeffs,
      speedKhz: 40,
      targetCfg: swdChip("samc21g18a")!.targetCfg,
      workAreaSize: 0,
    });
    expect(text.split("\n").filter((l) => !l.startsWith("#"))).toEqual([
      "adapter driver bcm2835gpio",
      "bcm2835gpio peripheral_base 0xFE000000",
      "bcm2835gpio speed_coeffs 236181 60",
      "adapter gpio swclk -chip 0 25",
      "adapter gpio swdio -chip 0 24",
      "adapter gpio srst -chip 0 18",
      "transport select swd",
      "adapter speed 40",
      "reset_config srst_only srst_nogate",
      "adapter srst delay 100",
      "adapter srst pulse_width 100",
      "set WORKAREASIZE 0",
      "source [find target/at91samdXX.cfg]",
      "",
    ]);
  });

  it("linuxgpiod names the gpiochip; no SRST, no reset_config", () => {
    const text = gpioConfig({
      driver: "linuxgpiod",
      pins: { swclk: 11, swdio: 12 },
      gpiochip: 4,
      speedKhz: 100,
      targetCfg: swdChip("stm32f103xe")!.targetCfg,
    });
    expect(text).toContain("adapter gpio swclk -chip 4 11\nadapter gpio swdio -chip 4 12\n");
    expect(text).not.toContain("reset_config");
    expect(text).toContain("source [find target/stm32f1x.cfg]");
  });

  it("connects under reset when asked, which needs the reset wire", () => {
    const base = {
      driver: "linuxgpiod" as const,
      speedKhz: 40,
      targetCfg: "target/at91samdXX.cfg",
      connectUnderReset: true,
    };
    expect(gpioConfig({ ...base, pins: { swclk: 25, swdio: 24, srst: 18 } })).toContain(
      "reset_config srst_only srst_nogate connect_assert_srst\n",
    );
    expect(() => gpioConfig({ ...base, pins: { swclk: 25, swdio: 24 } })).toThrow(
      /needs the reset wire/,
    );
  });

  it("refuses pins that clash, and bcm2835gpio without a Pi", () => {
    const base = { driver: "linuxgpiod" as const, speedKhz: 40, targetCfg: "target/x.cfg" };
    expect(() => gpioConfig({ ...base, pins: { swclk: 24, swdio: 24 } })).toThrow(/must differ/);
    expect(() => gpioConfig({ ...base, pins: { swclk: 99, swdio: 24 } })).toThrow(/no GPIO/);
    expect(() =>
      gpioConfig({ ...base, driver: "bcm2835gpio", pins: { swclk: 25, swdio: 24 } }),
    ).toThrow(expect.objectContaining({ code: "OPENOCD_SETUP", problem: "pi-unknown" }));
  });

  it("knows the Pis bcm2835gpio drives, and not a Pi 5", () => {
    expect(raspberryPiOf("Raspberry Pi 3 Model B Plus Rev 1.3")?.peripheralBase).toBe(0x3f000000);
    expect(raspberryPiOf("Raspberry Pi Zero W Rev 1.1")?.peripheralBase).toBe(0x20000000);
    expect(raspberryPiOf("Raspberry Pi 5 Model B Rev 1.0")).toBeUndefined();
    expect(raspberryPiOf("")).toBeUndefined();
  });

  it("picks the target script and erase by chip family", () => {
    expect(swdChip("samd21g18a")).toMatchObject({
      targetCfg: "target/at91samdXX.cfg",
      chipErase: "at91samd chip-erase",
    });
    expect(swdChip("samd51j19a")?.targetCfg).toBe("target/atsame5x.cfg");
    expect(swdChip("stm32f103xe")).toMatchObject({
      chipErase: "stm32f1x mass_erase 0",
      flashBase: 0x08000000,
    });
    expect(swdChip("stm32f446xx")?.chipErase).toBe("stm32f2x mass_erase 0");
    expect(swdChip("atmega2560")).toBeUndefined();
  });
});

describe("a CMSIS-DAP config", () => {
  it("names the probe, SWD and the chip, WORKAREASIZE 0 for verify by read-back", () => {
    expect(
      cmsisDapConfig({
        usbId: "c251:f001",
        backend: "usb_bulk",
        speedKhz: 1000,
        targetCfg: "target/at91samdXX.cfg",
        workAreaSize: 0,
      })
        .split("\n")
        .filter((l) => !l.startsWith("#")),
    ).toEqual([
      "adapter driver cmsis-dap",
      "cmsis_dap_vid_pid 0xc251 0xf001",
      "cmsis_dap_backend usb_bulk",
      "transport select swd",
      "adapter speed 1000",
      "set WORKAREASIZE 0",
      "source [find target/at91samdXX.cfg]",
      "",
    ]);
  });
});
