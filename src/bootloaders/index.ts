// The driver table: one line per bootloader family, by the device table's
// `protocol`, each imported only when a row of it is used. A family without
// a line is listed by `canflash targets` with its seed command and refused
// with BootloaderUnsupportedError. Adding a bootloader: its folder here, one
// line below, and its rows in src/targets/targets.json.

import type { BootloaderDriver } from "../flash-api/driver.js";
import type { Protocol, Target } from "../targets/index.js";
import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    BOOTLOADER_UNSUPPORTED: true;
  }
}

type Loader = () => Promise<{ driver: BootloaderDriver }>;

const DRIVERS: Partial<Record<Protocol, Loader>> = {
  dfu: () => import("./dfu/driver.js"),
  dfuse: () => import("./dfu/driver.js").then((m) => ({ driver: m.dfuseDriver })),
  katapult: () => import("./katapult/driver.js"),
  msc: () => import("./file-copy/msc.js"),
  uf2: () => import("./file-copy/uf2-driver.js"),
  sdcard: () => import("./file-copy/sdcard.js"),
  "sdcard-spi": () => import("./sdcard-spi/driver.js"),
  halfkay: () => import("./halfkay/driver.js"),
  "hid-bootloader": () => import("./hid-bootloader/driver.js"),
  picoboot: () => import("./picoboot/driver.js"),
  "sam-ba": () => import("./sam-ba/driver.js"),
  stk500v1: () => import("./avr/stk500v1/driver.js"),
  stk500v2: () => import("./avr/stk500v2/driver.js"),
  "stm32-usart": () => import("./stm32-usart/driver.js"),
  swd: () => import("./openocd/driver.js"),
};

/** The row's bootloader is one this build cannot flash (yet). */
export class BootloaderUnsupportedError extends CanflashError {
  constructor(
    readonly target: string,
    readonly protocol: string,
    /** The seed's command for the same job. */
    readonly seedCommand: string,
  ) {
    super(
      "BOOTLOADER_UNSUPPORTED",
      `target ${target} uses the ${protocol} protocol, which this build of canflash cannot flash yet`,
    );
  }
}

const loaded = new Map<Protocol, Promise<BootloaderDriver>>();

/** The driver of a family, or undefined when this build has none. */
export function loadDriver(protocol: Protocol): Promise<BootloaderDriver> | undefined {
  const load = DRIVERS[protocol];
  if (!load) return undefined;
  let p = loaded.get(protocol);
  if (!p) {
    p = load().then((m) => m.driver);
    loaded.set(protocol, p);
  }
  return p;
}

/** The driver for a row; throws BootloaderUnsupportedError when this build cannot flash it. */
export async function driverFor(t: Target): Promise<BootloaderDriver> {
  const d = await loadDriver(t.protocol);
  if (!d || !d.supports(t)) throw new BootloaderUnsupportedError(t.id, t.protocol, t.seedCommand);
  return d;
}

/** Does this build flash the row? */
export async function isSupported(t: Target): Promise<boolean> {
  const d = await loadDriver(t.protocol);
  return !!d && d.supports(t);
}
