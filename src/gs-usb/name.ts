// gs_usb interface names: "gs_usb:[<vid>:<pid>|<serial>][,bitrate=<bit/s>]".
//   gs_usb:                    the first gs_usb adapter (candleLight, Klipper's bridge)
//   gs_usb:1d50:606f           the first one with these USB ids
//   gs_usb:0042004B5734500B    the one with this USB serial number
//   gs_usb:,bitrate=500000     another bus speed (default 1 Mbit/s, Klipper's usual)
// Klipper's USB-to-CAN bridge runs at the rate it was built with; canflash
// cannot change or read it, so it assumes 1 Mbit/s unless bitrate= says
// otherwise.

import type { UsbSelector } from "../usb/device.js";
import { GsUsbInterfaceError } from "./errors.js";

export const GS_USB_PREFIX = "gs_usb:";
export const GS_USB_DEFAULT_BITRATE = 1_000_000;

/** USB ids of gs_usb devices (the Linux driver's table): candleLight/Klipper, candleLight (pid.codes), CES CANext FD, ABE CANdebugger FD, Xylanta SAINT3, Cannectivity. */
export const GS_USB_IDS: ReadonlyArray<readonly [number, number]> = [
  [0x1d50, 0x606f],
  [0x1209, 0x2323],
  [0x1cd2, 0x606f],
  [0x16d0, 0x10b8],
  [0x16d0, 0x0f30],
  [0x1209, 0xca01],
];

export const isGsUsbId = (vid: number, pid: number): boolean =>
  GS_USB_IDS.some(([v, p]) => v === vid && p === pid);

export interface GsUsbName {
  /** Which device; empty: the first with a gs_usb id. */
  selector: UsbSelector;
  /** "1d50:606f", "serial 0042…", "a gs_usb adapter". */
  wanted: string;
  bitrate: number;
  /** bitrate= was given (a Klipper bridge is then assumed to run at it). */
  bitrateGiven: boolean;
}

export const isGsUsbInterface = (iface: string): boolean => iface.startsWith(GS_USB_PREFIX);

/** Parses a gs_usb interface name; throws GsUsbInterfaceError naming what is wrong. */
export function parseGsUsbInterface(iface: string): GsUsbName {
  if (!isGsUsbInterface(iface))
    throw new GsUsbInterfaceError(iface, `does not start with "${GS_USB_PREFIX}"`);
  const [head = "", ...opts] = iface.slice(GS_USB_PREFIX.length).split(",");
  let bitrate = GS_USB_DEFAULT_BITRATE;
  let bitrateGiven = false;
  for (const opt of opts) {
    const m = /^bitrate=(\d+)$/.exec(opt);
    if (!m) throw new GsUsbInterfaceError(iface, `unknown option "${opt}" (bitrate=<bit/s>)`);
    bitrate = Number(m[1]);
    if (bitrate < 10_000 || bitrate > 1_000_000)
      throw new GsUsbInterfaceError(
        iface,
        `bitrate ${m[1]} is outside classic CAN (10000–1000000)`,
      );
    bitrateGiven = true;
  }
  const ids = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(head);
  if (ids) {
    const vendorId = parseInt(ids[1]!, 16);
    const productId = parseInt(ids[2]!, 16);
    return {
      selector: { vendorId, productId },
      wanted: head.toLowerCase(),
      bitrate,
      bitrateGiven,
    };
  }
  if (head.includes(":"))
    throw new GsUsbInterfaceError(
      iface,
      `"${head}" is neither <vid>:<pid> (1d50:606f) nor a serial number`,
    );
  if (head)
    return { selector: { serialNumber: head }, wanted: `serial ${head}`, bitrate, bitrateGiven };
  return { selector: {}, wanted: "a gs_usb adapter", bitrate, bitrateGiven };
}
