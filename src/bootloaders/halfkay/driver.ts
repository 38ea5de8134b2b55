// HalfKay (Teensy) as a driver: a USB link to 16c0:0478, entered by the
// program button (Klipper on the at90usb1286 has no way into HalfKay). The
// part comes from the row's chip; HalfKay reports nothing about itself, so
// status says what the row and the USB descriptors know.

import {
  driverContext,
  type BootloaderDriver,
  type DriverEnv,
  type Link,
  type ProbeResult,
  type StatusReport,
  type UsbLink,
} from "../../flash-api/driver.js";
import { LinkNotSupportedError } from "../../flash-api/errors.js";
import type { Target } from "../../targets/index.js";
import { label } from "../../usb/request-host.js";
import { matchesSelector } from "../../usb/device.js";
import { HalfKayAdapter, HALFKAY_USB } from "./adapter.js";
import { halfKayPart, type HalfKayPart } from "./codec.js";

function usb(t: Target, link: Link): UsbLink {
  if (link.kind !== "usb") throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["usb"]);
  return link;
}

function part(t: Target): HalfKayPart {
  const p = halfKayPart(t.chip);
  if (!p) throw new Error(`HalfKay has no part ${t.chip}`);
  return p;
}

export function halfKayAdapter(t: Target, link: UsbLink): HalfKayAdapter {
  return new HalfKayAdapter({ backend: link.backend, selector: link.selector, part: part(t) });
}

export const driver: BootloaderDriver = {
  protocol: "halfkay",
  name: "HalfKay",
  links: ["usb"],

  supports: (t) => t.protocol === "halfkay" && halfKayPart(t.chip) !== undefined,

  adapter: (t, link) => halfKayAdapter(t, usb(t, link)),

  async status(t, link, env: DriverEnv): Promise<StatusReport> {
    const adapter = halfKayAdapter(t, usb(t, link));
    try {
      await adapter.enter(driverContext(env));
      const d = await adapter.connect(driverContext(env));
      const p = part(t);
      return {
        bootloader: "HalfKay",
        fields: [
          { label: "Part", value: `${p.name} (${p.board})` },
          { label: "Application", value: `${p.codeSize} bytes from 0x0` },
          { label: "Block Size", value: `${p.blockSize}` },
          { label: "Read-back", value: "none (HalfKay cannot be read)" },
        ],
        description: d.description,
      };
    } finally {
      await adapter.close();
    }
  },

  async probe(t, link): Promise<ProbeResult> {
    const l = usb(t, link);
    const sel = { ...HALFKAY_USB, ...l.selector };
    const found = (await l.backend.list()).find((d) => matchesSelector(d, sel));
    return found
      ? { present: true, description: `HalfKay on ${part(t).name} at ${label(found)}` }
      : { present: false };
  },
};
