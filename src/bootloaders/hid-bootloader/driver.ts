// The STM32 HID bootloader as a driver: a USB link to 1209:beba, or the
// tty of a running Klipper (USB serial), which a 1200-baud touch sends into
// the bootloader (Klipper sets the boot magic and resets), after which the
// bootloader is looked for on the USB backend.

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
import { mcuFlash, type Target } from "../../targets/index.js";
import { usbBackend } from "../../usb/backends.js";
import { matchesSelector } from "../../usb/device.js";
import { label } from "../../usb/request-host.js";
import { HidBootloaderAdapter, HID_BOOTLOADER_USB } from "./adapter.js";
import { HID_APP_START } from "./codec.js";

function area(t: Target): { appStart: number; appEnd: number } {
  const appStart = t.appStart ?? HID_APP_START[t.chip]!;
  const flash = mcuFlash(t.mcu[0]!);
  const appEnd = t.appEnd ?? (flash ? flash.flashBase + flash.flashSize : appStart + 0x10000);
  return { appStart, appEnd };
}

export function hidAdapter(t: Target, link: Link, env: DriverEnv): HidBootloaderAdapter {
  const target = { id: t.id, chip: t.chip, ...area(t) };
  if (link.kind === "usb")
    return new HidBootloaderAdapter({ backend: link.backend, selector: link.selector, target });
  if (link.kind === "serial")
    return new HidBootloaderAdapter({
      backend: env.usbBackend ?? usbBackend(),
      target,
      request: () => touch1200(link.device, env.procRoot),
    });
  throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["usb", "serial"]);
}

export const driver: BootloaderDriver = {
  protocol: "hid-bootloader",
  name: "STM32 HID bootloader",
  links: ["usb", "serial"],

  supports: (t) =>
    t.protocol === "hid-bootloader" && (t.appStart ?? HID_APP_START[t.chip]) !== undefined,

  adapter: (t, link, env) => hidAdapter(t, link, env),

  async status(t, link, env): Promise<StatusReport> {
    const adapter = hidAdapter(t, link, env);
    try {
      await adapter.enter(driverContext(env));
      const d = await adapter.connect(driverContext(env));
      const a = area(t);
      return {
        bootloader: "STM32 HID bootloader",
        fields: [
          { label: "Version", value: d.bootloaderVersion ?? "?" },
          {
            label: "Application",
            value: `0x${a.appStart.toString(16)}..0x${a.appEnd.toString(16)}`,
          },
          { label: "Read-back", value: "none (the protocol cannot read)" },
        ],
        description: d.description,
      };
    } finally {
      await adapter.close();
    }
  },

  /** Into the bootloader and left there: a running Klipper gets the 1200-baud touch; a board already in it stays. */
  request: (t, link, env) =>
    requestUsbBootloader(hidAdapter(t, link, env), "STM32 HID bootloader", link, env),

  /** A board this run asked in but never flashed: REBOOT starts the application it had. */
  release: (t, link, env) => releaseUsbBootloader((l) => hidAdapter(t, l, env), link, env),

  async probe(t, link): Promise<ProbeResult> {
    if (link.kind !== "usb") return { present: false };
    const sel = { ...HID_BOOTLOADER_USB, ...link.selector };
    const found = (await link.backend.list()).find((d) => matchesSelector(d, sel));
    return found
      ? { present: true, description: `STM32 HID bootloader at ${label(found)} (${t.id})` }
      : { present: false };
  },
};
