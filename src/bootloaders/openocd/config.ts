// The OpenOCD config canflash writes when none is given: the seed's
// Raspberry Pi template (SWD on GPIO pins through bcm2835gpio, or
// linuxgpiod on boards where that does not work — a Pi 5, other SBCs),
// with a hardware reset wire when SRST is given, then the chip's target
// script. In openocd 0.12's command names. Pure: options in, text out.

import { OpenOcdSetupError } from "./errors.js";

export type GpioDriver = "bcm2835gpio" | "linuxgpiod";

export interface SwdPins {
  swclk: number;
  swdio: number;
  /** The chip's reset line (nRST); absent: resets go through the debug port only. */
  srst?: number;
}

export interface GpioConfigOptions {
  driver: GpioDriver;
  pins: SwdPins;
  /** bcm2835gpio: the SoC's peripheral base (raspberryPiOf gives it from the Pi's model). */
  peripheralBase?: number;
  /** bcm2835gpio: clock scaling for the Pi's CPU (OpenOCD's speed_coeffs). */
  speedCoeffs?: readonly [number, number];
  /** linuxgpiod: the gpiochip number (default 0). */
  gpiochip?: number;
  /** SWD clock in kHz (the seed: 40). */
  speedKhz: number;
  /** OpenOCD's target script, "target/at91samdXX.cfg". */
  targetCfg: string;
  /** The RAM OpenOCD may use for flash algorithms; 0 makes verify read the flash back. Absent: the script's default. */
  workAreaSize?: number;
  /** Hold SRST while connecting (the seed's "hold the reset button while OpenOCD starts"); needs pins.srst. */
  connectUnderReset?: boolean;
}

/** The seed's adapter speed for GPIO bit-banging, kHz. */
export const SEED_SWD_SPEED_KHZ = 40;
/** The seed's reset timing (adapter srst delay / pulse_width), ms. */
export const SEED_SRST_MS = 100;

export interface RaspberryPi {
  model: string;
  peripheralBase: number;
  speedCoeffs: readonly [number, number];
}

/**
 * The Pi's bcm2835gpio facts from its model line (/proc/device-tree/model),
 * or undefined where bcm2835gpio does not drive its GPIO (a Pi 5: linuxgpiod).
 */
export function raspberryPiOf(model: string): RaspberryPi | undefined {
  const m = model.replace(/\0/g, "").trim();
  const pi = (peripheralBase: number, speedCoeffs: readonly [number, number]): RaspberryPi => ({
    model: m,
    peripheralBase,
    speedCoeffs,
  });
  if (!/Raspberry Pi/i.test(m) || /Raspberry Pi 5|Compute Module 5|Raspberry Pi 500/i.test(m))
    return undefined;
  if (/Raspberry Pi (4|400)|Compute Module 4/i.test(m)) return pi(0xfe00_0000, [236181, 60]);
  if (/Raspberry Pi 3|Compute Module 3|Zero 2/i.test(m)) return pi(0x3f00_0000, [194938, 48]);
  if (/Raspberry Pi 2/i.test(m)) return pi(0x3f00_0000, [146203, 36]);
  return pi(0x2000_0000, [113714, 28]); // Pi 1, Zero, Compute Module 1
}

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(8, "0")}`;

function checkPin(name: string, n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > 63))
    throw new OpenOcdSetupError("bad-pin", `GPIO ${name}=${n} is no GPIO number (0-63)`);
}

/** The config text. Throws OpenOcdSetupError for pins that clash or bcm2835gpio without a peripheral base. */
export function gpioConfig(o: GpioConfigOptions): string {
  const { pins } = o;
  checkPin("swclk", pins.swclk);
  checkPin("swdio", pins.swdio);
  checkPin("srst", pins.srst);
  const used = [pins.swclk, pins.swdio, ...(pins.srst !== undefined ? [pins.srst] : [])];
  if (new Set(used).size !== used.length)
    throw new OpenOcdSetupError("bad-pin", `SWD pins must differ: ${used.join(", ")}`);
  // As openocd 0.12's own raspberrypi-native.cfg writes them (bcm2835gpio has one chip, 0).
  const chip = ` -chip ${o.driver === "linuxgpiod" ? (o.gpiochip ?? 0) : 0}`;
  const lines = [
    "# Written by canflash from Klipper's Raspberry Pi template (docs/Bootloaders.md).",
    `adapter driver ${o.driver}`,
  ];
  if (o.driver === "bcm2835gpio") {
    if (o.peripheralBase === undefined)
      throw new OpenOcdSetupError(
        "pi-unknown",
        "bcm2835gpio needs the Raspberry Pi's peripheral base, and this is no Pi canflash knows",
      );
    lines.push(`bcm2835gpio peripheral_base ${hex(o.peripheralBase)}`);
    if (o.speedCoeffs)
      lines.push(`bcm2835gpio speed_coeffs ${o.speedCoeffs[0]} ${o.speedCoeffs[1]}`);
  }
  lines.push(`adapter gpio swclk${chip} ${pins.swclk}`, `adapter gpio swdio${chip} ${pins.swdio}`);
  if (pins.srst !== undefined) lines.push(`adapter gpio srst${chip} ${pins.srst}`);
  lines.push("transport select swd", `adapter speed ${o.speedKhz}`);
  if (o.connectUnderReset && pins.srst === undefined)
    throw new OpenOcdSetupError(
      "pins-missing",
      "connecting under reset needs the reset wire: give srst",
    );
  if (pins.srst !== undefined)
    lines.push(
      "# The reset wire resets the chip; srst_nogate: SWD still clocks while it is held (connect under reset).",
      `reset_config srst_only srst_nogate${o.connectUnderReset ? " connect_assert_srst" : ""}`,
      `adapter srst delay ${SEED_SRST_MS}`,
      `adapter srst pulse_width ${SEED_SRST_MS}`,
    );
  if (o.workAreaSize !== undefined) lines.push(`set WORKAREASIZE ${o.workAreaSize}`);
  lines.push(`source [find ${o.targetCfg}]`, "");
  return lines.join("\n");
}

export interface CmsisDapConfigOptions {
  /** Only the probe with these USB ids ("c251:f001"); absent: the first CMSIS-DAP probe. */
  usbId?: string;
  /** Only the probe with this USB serial. */
  serial?: string;
  /** "usb_bulk" (CMSIS-DAP v2) or "hid" (v1); absent: OpenOCD tries both. */
  backend?: "usb_bulk" | "hid";
  speedKhz: number;
  targetCfg: string;
  workAreaSize?: number;
  /** The probe drives the chip's reset line. */
  srst?: boolean;
}

/**
 * A config for a CMSIS-DAP probe (the seed's "dedicated SWD hardware
 * dongle"), or a CMSIS-DAP device model behind a stand-in libusb: with
 * `workAreaSize: 0` OpenOCD verifies by reading the flash back.
 */
export function cmsisDapConfig(o: CmsisDapConfigOptions): string {
  const lines = ["# Written by canflash: a CMSIS-DAP probe over SWD.", "adapter driver cmsis-dap"];
  if (o.usbId) {
    const [vid, pid] = o.usbId.split(":");
    lines.push(`cmsis_dap_vid_pid 0x${vid} 0x${pid}`); // openocd 0.12 names
  }
  if (o.backend) lines.push(`cmsis_dap_backend ${o.backend}`);
  if (o.serial) lines.push(`adapter serial ${o.serial}`);
  lines.push("transport select swd", `adapter speed ${o.speedKhz}`);
  if (o.srst) lines.push("reset_config srst_only srst_nogate");
  if (o.workAreaSize !== undefined) lines.push(`set WORKAREASIZE ${o.workAreaSize}`);
  lines.push(`source [find ${o.targetCfg}]`, "");
  return lines.join("\n");
}
