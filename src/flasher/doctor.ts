// What stands between this machine and a flash, as facts: each CAN
// interface (present, up, bitrate, txqueuelen, controller state, error
// counters), whether Klipper is running, the serial devices with what they
// are (a bootloader of the device table, a Klipper build) and who holds
// them, Klipper USB-to-CAN bridges, and USB devices in a bootloader mode
// (DFU, HID …) with the command that flashes each. The CLI turns facts into findings
// with their fixes.

import { join } from "node:path";
import { readdir } from "node:fs/promises";
import { kernelHasCanRaw } from "../can/socketcan.js";
import {
  listCanInterfaces,
  type CanInterfaceInfo,
  type ListInterfacesOptions,
} from "../can/interfaces.js";
import { detectKlipper, type DetectOptions, type KlipperStatus } from "../klippy-bridge/klippy.js";
import { uuidFromUsbSerial } from "../klippy-bridge/uuid.js";
import { targets } from "../targets/index.js";
import { findPortHolders, type PortHolder } from "../transport/port-holders.js";
import {
  hasUsbId,
  isKlipperUsb,
  UsbTree,
  type BridgeNetdev,
  type UsbInfo,
} from "../transport/usb-tree.js";

import { usbBackend } from "../usb/backends.js";
import type { UsbBackend, UsbDeviceInfo } from "../usb/device.js";
import { formatUsbId } from "../usb/device.js";
import { isGsUsbId } from "../gs-usb/name.js";
import { kernelNetdevOf } from "../gs-usb/backend.js";
import { listUsbBoards, type UsbBoardFound } from "./usb-devices.js";

export type { CanInterfaceInfo, KlipperStatus, PortHolder, UsbInfo, UsbBoardFound };

export interface DoctorOptions {
  interfaces?: ListInterfacesOptions;
  klipper?: DetectOptions;
  /** Where /dev (and /dev/serial/by-id) lives (tests). */
  devRoot?: string;
  sysfsRoot?: string;
  procRoot?: string;
  /** Where the kernel modules live (tests). */
  modulesRoot?: string;
  /** Where USB bootloaders are listed (default: by name from the environment). */
  usbBackend?: UsbBackend;
}

export interface SerialDeviceFact {
  /** The /dev/serial/by-id path. */
  path: string;
  /** What is behind it: a bootloader of the device table, Klipper, another USB device, a plain tty. */
  kind: "bootloader" | "klipper" | "usb" | "tty";
  usb?: UsbInfo;
  /** For kind "bootloader": the table's bootloader name ("Katapult / CanBoot"). */
  bootloader?: string;
  holders: PortHolder[];
}

export interface BridgeFact extends BridgeNetdev {
  uuid: string | undefined;
}

export interface DoctorReport {
  /** Linux with CAN_RAW registered, built in or available as a module (false: no SocketCAN at all). */
  kernelCan: boolean;
  interfaces: CanInterfaceInfo[];
  klipper: KlipperStatus;
  serial: SerialDeviceFact[];
  bridges: BridgeFact[];
  /** USB devices in a bootloader mode this build flashes (with the command), or running Klipper. */
  usb: UsbBoardFound[];
  /** gs_usb adapters (candleLight, Klipper's USB-to-CAN bridge) and how to name each. */
  gsUsb: GsUsbAdapterFact[];
  /** Why USB devices could not be listed (the native addon missing …). */
  usbError?: string;
}

/** A gs_usb adapter on the USB backend. */
export interface GsUsbAdapterFact {
  device: UsbDeviceInfo;
  /** "1d50:606f". */
  usbId: string;
  /** Its manufacturer string says Klipper: a USB-to-CAN bridge running at its build's rate. */
  klipperBridge: boolean;
  /** The SocketCAN interface the kernel's gs_usb driver made of it (Linux), if any: use that one. */
  kernelNetdev?: string;
  /** The userspace name: "gs_usb:<serial>", or "gs_usb:<vid>:<pid>" without a serial. */
  iface: string;
}

/** The first row whose bootloader enumerates with this USB id. */
function bootloaderOf(u: UsbInfo): string | undefined {
  return targets().find((t) => hasUsbId(u, t.usbIds))?.bootloader;
}

export async function examineHost(o: DoctorOptions = {}): Promise<DoctorReport> {
  const interfaces = await listCanInterfaces(o.interfaces);
  const klipper = await detectKlipper({
    ...(o.procRoot ? { procRoot: o.procRoot } : {}),
    ...o.klipper,
  });
  const tree = new UsbTree(o.sysfsRoot ?? "/sys", o.devRoot ?? "/dev");
  const byId = join(o.devRoot ?? "/dev", "serial", "by-id");
  const serial: SerialDeviceFact[] = [];
  for (const e of (await readdir(byId).catch(() => [] as string[])).sort()) {
    const path = join(byId, e);
    const tty = await tree.resolveTty(path);
    const holders = await findPortHolders(path, o.procRoot);
    const usb = tty?.usb;
    const bootloader = usb ? bootloaderOf(usb) : undefined;
    serial.push({
      path,
      kind: !usb ? "tty" : bootloader ? "bootloader" : isKlipperUsb(usb) ? "klipper" : "usb",
      ...(usb ? { usb } : {}),
      ...(bootloader ? { bootloader } : {}),
      holders,
    });
  }
  const bridges = (await tree.bridges()).map((b) => ({
    ...b,
    uuid: uuidFromUsbSerial(b.usb.serial),
  }));
  const kernelCan =
    process.platform === "linux" &&
    (await kernelHasCanRaw(o.procRoot ?? "/proc", o.modulesRoot ?? "/lib/modules"));
  let usb: UsbBoardFound[] = [];
  let usbError: string | undefined;
  const gsUsb: GsUsbAdapterFact[] = [];
  try {
    const backend = o.usbBackend ?? usbBackend();
    const devices = await backend.list();
    const listed: UsbBackend = {
      name: backend.name,
      list: async () => devices,
      open: (d) => backend.open(d),
    };
    usb = await listUsbBoards(listed);
    for (const d of devices) {
      if (!isGsUsbId(d.vendorId, d.productId)) continue;
      const id = formatUsbId(d.vendorId, d.productId);
      const held = await kernelNetdevOf(d, o.sysfsRoot ?? "/sys");
      gsUsb.push({
        device: d,
        usbId: id,
        klipperBridge: d.manufacturer === "Klipper",
        ...(held ? { kernelNetdev: held } : {}),
        iface: `gs_usb:${d.serialNumber ?? id}`,
      });
    }
  } catch (e) {
    usbError = (e as Error).message;
  }
  return {
    kernelCan,
    interfaces,
    klipper,
    serial,
    bridges,
    usb,
    gsUsb,
    ...(usbError ? { usbError } : {}),
  };
}
