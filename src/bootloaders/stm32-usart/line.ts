// The serial line to the STM32 ROM: 8E1 on a real UART (the ROM checks
// even parity), or the line mode the caller chose (8N1 for a pty or an
// adapter without parity). Before opening, refuses the Raspberry Pi's mini
// UART, which cannot do parity: sysfs names its driver (bcm2835-aux-uart,
// or serial8250 on a Pi's ttyS0) on the tty's device or a parent of it.

import { readFile, readlink, realpath } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { openSerial } from "../../transport/serial.js";
import { formatSerialMode, MODE_8E1, type SerialMode } from "../../transport/serial-mode.js";
import type { Clock } from "../../util/clock.js";
import { Stm32UartNoParityError } from "./errors.js";
import type { LineTiming } from "./session.js";

/** stm32flash's default speed, and the row's when it has none. */
export const DEFAULT_STM32_BAUD = 57600;

/** Bits per character: start, 8 data, parity, stop bits. */
export function frameBits(mode: SerialMode): number {
  return 1 + mode.dataBits + (mode.parity === "none" ? 0 : 1) + mode.stopBits;
}

export const lineTiming = (baud: number, mode: SerialMode): LineTiming => ({
  baud,
  frameBits: frameBits(mode),
});

async function text(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).replace(/\0/g, " ").trim();
  } catch {
    return undefined;
  }
}

/**
 * The mini UART's driver or device-tree name when `device` is the
 * Raspberry Pi's mini UART, else undefined. Reads only sysfs.
 */
export async function miniUartDriver(
  device: string,
  sysRoot = "/sys",
): Promise<{ tty: string; driver: string } | undefined> {
  const tty = basename(await realpath(device).catch(() => device));
  let dir = await realpath(join(sysRoot, "class", "tty", tty, "device")).catch(() => undefined);
  if (!dir) return undefined;
  const isPi = /raspberry pi/i.test(
    (await text(join(sysRoot, "firmware", "devicetree", "base", "model"))) ?? "",
  );
  const top = join(await realpath(sysRoot).catch(() => sysRoot), "devices");
  for (let depth = 0; depth < 8 && dir.startsWith(top) && dir !== top; depth++) {
    const driver = await readlink(join(dir, "driver")).then(basename, () => undefined);
    const compatible = (await text(join(dir, "of_node", "compatible"))) ?? "";
    if (driver && /bcm2835-aux/.test(driver)) return { tty, driver };
    if (/bcm2835-aux-uart/.test(compatible)) return { tty, driver: "brcm,bcm2835-aux-uart" };
    if (isPi && /^ttyS\d+$/.test(tty) && driver === "serial8250") return { tty, driver };
    dir = dirname(dir);
  }
  return undefined;
}

export interface OpenLineOptions {
  device: string;
  baud: number;
  mode?: SerialMode;
  sysRoot?: string;
  procRoot?: string;
  clock?: Clock;
}

/**
 * Opens the line in the given mode (default 8E1). Throws
 * Stm32UartNoParityError for the mini UART when parity is asked for.
 */
export async function openStm32Line(o: OpenLineOptions): Promise<ByteTransport> {
  const mode = o.mode ?? MODE_8E1;
  if (mode.parity !== "none") {
    const mini = await miniUartDriver(o.device, o.sysRoot);
    if (mini) throw new Stm32UartNoParityError(o.device, mini.tty, mini.driver);
  }
  return openSerial({
    path: o.device,
    baudRate: o.baud,
    parity: mode.parity,
    stopBits: mode.stopBits,
    ...(o.procRoot ? { procRoot: o.procRoot } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
  });
}

export const modeText = (mode: SerialMode | undefined): string =>
  formatSerialMode(mode ?? MODE_8E1);
