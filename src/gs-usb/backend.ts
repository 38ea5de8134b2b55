// The gs_usb backend: "gs_usb:[<vid>:<pid>|<serial>][,bitrate=…]" finds the
// adapter on the USB backend (native, socket or in-process: usb/backends.ts)
// and opens its CAN channel. Registered in the backend table by
// flasher/buses.ts and imported only when such a name is opened.

import type { CanBackend } from "../can/backends.js";
import { usbBackend } from "../usb/backends.js";
import { matchesSelector, type UsbBackend, type UsbDeviceInfo } from "../usb/device.js";
import { startGsUsbBus, type GsUsbBus, type GsUsbBusOptions } from "./bus.js";
import { GsUsbKernelHeldError, GsUsbNotFoundError } from "./errors.js";
import { UsbTree } from "../transport/usb-tree.js";
import { formatUsbId } from "../usb/device.js";
import { isGsUsbId, isGsUsbInterface, parseGsUsbInterface } from "./name.js";

export interface OpenGsUsbOptions extends GsUsbBusOptions {
  /** The USB backend to list devices on (default: the one the environment picks). */
  usb?: UsbBackend;
  /** Where Linux sysfs lives (tests); the kernel's network interfaces are looked up there. */
  sysfsRoot?: string;
}

/** The SocketCAN interface the kernel's gs_usb driver made of `d`, if any (Linux sysfs). */
export async function kernelNetdevOf(
  d: UsbDeviceInfo,
  sysfsRoot = "/sys",
): Promise<string | undefined> {
  const id = formatUsbId(d.vendorId, d.productId);
  const netdevs = await new UsbTree(sysfsRoot, "/dev").usbNetdevs().catch(() => []);
  return netdevs.find(
    (n) =>
      `${n.usb.vid}:${n.usb.pid}` === id &&
      (d.serialNumber && n.usb.serial
        ? n.usb.serial === d.serialNumber
        : n.usb.usbPath === d.portPath),
  )?.iface;
}

/** The gs_usb adapters a backend lists (by USB id). */
export async function listGsUsbDevices(usb: UsbBackend = usbBackend()): Promise<UsbDeviceInfo[]> {
  return (await usb.list()).filter((d) => isGsUsbId(d.vendorId, d.productId));
}

/**
 * Opens a gs_usb adapter by interface name. Throws GsUsbInterfaceError for
 * a bad name, GsUsbNotFoundError, the USB seam's errors (access, no
 * device), GsUsbNotGsUsbError or GsUsbBitrateError; the device is closed
 * again on failure.
 */
export async function openGsUsb(iface: string, options: OpenGsUsbOptions = {}): Promise<GsUsbBus> {
  const name = parseGsUsbInterface(iface);
  const usb = options.usb ?? usbBackend();
  const all = await usb.list();
  const s = name.selector;
  const found = all.find(
    (d) =>
      matchesSelector(d, s) &&
      // Only ids (or a serial) single a device out; "gs_usb:" takes the first with a gs_usb id.
      (s.vendorId !== undefined ||
        s.serialNumber !== undefined ||
        isGsUsbId(d.vendorId, d.productId)),
  );
  if (!found) throw new GsUsbNotFoundError(iface, name.wanted, usb.name);
  // Claiming would detach the kernel's driver (libusb does) and pull its can0 from under Klipper.
  const netdev = await kernelNetdevOf(found, options.sysfsRoot);
  if (netdev) throw new GsUsbKernelHeldError(iface, netdev);
  const device = await usb.open(found);
  try {
    return await startGsUsbBus(iface, name, device, options);
  } catch (e) {
    await device.close().catch(() => undefined);
    throw e;
  }
}

export const gsUsbBackend: CanBackend = {
  name: "gs_usb",
  matches: isGsUsbInterface,
  simulated: false,
  open: (iface, options) =>
    openGsUsb(iface, {
      ...(options.receiveOwn !== undefined ? { receiveOwn: options.receiveOwn } : {}),
      ...(options.filters ? { filters: options.filters } : {}),
    }),
};
