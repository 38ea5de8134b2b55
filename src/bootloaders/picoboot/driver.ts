// RP2040 BOOTSEL (PICOBOOT) as a driver: a USB link to 2e8a:0003, or the
// tty of a running Klipper rp2040 USB build, which a 1200-baud touch sends
// into the boot ROM, after which BOOTSEL is looked for on the USB backend.
// Two rows: writing a "No bootloader" build at 0x10000000, or a build for
// the 16 KiB offset above Katapult.

import {
  driverContext,
  type BootloaderDriver,
  type DriverEnv,
  type Link,
  type ProbeResult,
  type StatusReport,
} from "../../flash-api/driver.js";
import { LinkNotSupportedError } from "../../flash-api/errors.js";
import { touch1200 } from "../../entry/touch.js";
import { releaseUsbBootloader, requestUsbBootloader } from "../../entry/usb-bootloader.js";
import type { Target } from "../../targets/index.js";
import { usbBackend } from "../../usb/backends.js";
import { matchesSelector } from "../../usb/device.js";
import { label } from "../../usb/request-host.js";
import { PicobootAdapter } from "./adapter.js";
import { FLASH_START, RP2040_BOOTSEL_USB } from "./codec.js";

export function picobootAdapter(t: Target, link: Link, env: DriverEnv): PicobootAdapter {
  const target = {
    id: t.id,
    appStart: t.appStart ?? FLASH_START,
    ...(t.appEnd !== undefined ? { appEnd: t.appEnd } : {}),
  };
  if (link.kind === "usb")
    return new PicobootAdapter({ backend: link.backend, selector: link.selector, target });
  if (link.kind === "serial")
    return new PicobootAdapter({
      backend: env.usbBackend ?? usbBackend(),
      target,
      request: () => touch1200(link.device, env.procRoot),
    });
  throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["usb", "serial"]);
}

export const driver: BootloaderDriver = {
  protocol: "picoboot",
  name: "RP2040 boot ROM (PICOBOOT)",
  links: ["usb", "serial"],

  supports: (t) => t.protocol === "picoboot" && t.mcu.includes("rp2040"),

  adapter: (t, link, env) => picobootAdapter(t, link, env),

  async status(t, link, env): Promise<StatusReport> {
    const adapter = picobootAdapter(t, link, env);
    try {
      await adapter.enter(driverContext(env));
      const d = await adapter.connect();
      return {
        bootloader: "RP2040 boot ROM",
        fields: [
          { label: "Interface", value: "PICOBOOT" },
          { label: "Writes From", value: `0x${(t.appStart ?? FLASH_START).toString(16)}` },
          { label: "Erase Unit", value: "4096" },
          { label: "Page Size", value: "256" },
        ],
        description: d.description,
      };
    } finally {
      await adapter.close();
    }
  },

  /** Into the bootloader and left there: a running Klipper gets the 1200-baud touch; a board already in it stays. */
  request: (t, link, env) =>
    requestUsbBootloader(picobootAdapter(t, link, env), "RP2040 boot ROM (BOOTSEL)", link, env),

  /** A board this run asked in but never flashed: REBOOT starts the application it had. */
  release: (t, link, env) => releaseUsbBootloader((l) => picobootAdapter(t, l, env), link, env),

  async probe(t, link): Promise<ProbeResult> {
    if (link.kind !== "usb") return { present: false };
    const sel = { ...RP2040_BOOTSEL_USB, ...link.selector };
    const found = (await link.backend.list()).find((d) => matchesSelector(d, sel));
    return found
      ? { present: true, description: `RP2040 in BOOTSEL mode at ${label(found)} (${t.id})` }
      : { present: false };
  },
};
