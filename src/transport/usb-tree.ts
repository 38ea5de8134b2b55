// USB devices as Linux shows them in sysfs: which USB device a tty belongs
// to, what that device is now (it re-enumerates when a board switches
// between Klipper and Katapult), which tty it has, and which CAN netdevs
// are Klipper USB-to-CAN bridges. Roots are parameters so tests can build a
// fake tree (and map tty names to pseudo-terminals).

import { lstat, readdir, readFile, readlink, realpath } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { applicationUsbIds } from "../targets/index.js";

export interface UsbInfo {
  /** Port path in the USB topology ("1-1.3"): stable across re-enumeration. */
  usbPath: string;
  vid: string;
  pid: string;
  manufacturer: string;
  product: string;
  serial: string;
}

export interface TtyInfo {
  /** tty name ("ttyACM0"). */
  name: string;
  /** Device node to open. */
  devPath: string;
  /** The USB device behind it, or undefined (a built-in UART such as ttyAMA0). */
  usb: UsbInfo | undefined;
}

export interface BridgeNetdev {
  iface: string;
  usb: UsbInfo;
}

/** "vid:pid" of a USB device, as the device table writes USB ids. */
export const usbId = (u: UsbInfo): string => `${u.vid}:${u.pid}`;

/** The USB device matches one of `ids` (from the device table). */
export const hasUsbId = (u: UsbInfo, ids: readonly string[]): boolean => ids.includes(usbId(u));

/** Klipper's USB serial build (not its USB-to-CAN bridge build). */
export const isKlipperUsb = (u: UsbInfo): boolean =>
  hasUsbId(u, applicationUsbIds("klipper-usb")) ||
  (u.manufacturer.toLowerCase() === "klipper" &&
    !hasUsbId(u, applicationUsbIds("klipper-usb-can-bridge")));

/** gs_usb shares its id with candleLight adapters: a Klipper bridge also says "klipper". */
export const isKlipperBridge = (u: UsbInfo): boolean =>
  hasUsbId(u, applicationUsbIds("klipper-usb-can-bridge")) &&
  u.manufacturer.toLowerCase() === "klipper";

const text = async (p: string): Promise<string> =>
  (await readFile(p, "utf8").catch(() => "")).trim();

export class UsbTree {
  constructor(
    readonly sysfsRoot = "/sys",
    /** Where tty device nodes live (a fake tree maps names to ptys here). */
    readonly devRoot = "/dev",
  ) {}

  /** The USB device at a port path, as it is now; undefined when nothing is there. */
  async usbAt(usbPath: string): Promise<UsbInfo | undefined> {
    return this.readUsbDir(join(this.sysfsRoot, "bus", "usb", "devices", usbPath));
  }

  /**
   * The tty a path names (following /dev/serial/by-id links until a name
   * sysfs knows) and the USB device behind it.
   */
  async resolveTty(path: string): Promise<TtyInfo | undefined> {
    let p = resolve(path);
    for (let hops = 0; hops < 16; hops++) {
      const name = basename(p);
      if (await this.isTty(name)) {
        const iface = await realpath(join(this.sysfsRoot, "class", "tty", name, "device")).catch(
          () => undefined,
        );
        const usb = iface ? await this.readUsbDir(dirname(iface)) : undefined;
        return { name, devPath: join(this.devRoot, name), usb };
      }
      const st = await lstat(p).catch(() => undefined);
      if (!st?.isSymbolicLink()) return undefined;
      p = resolve(dirname(p), await readlink(p));
    }
    return undefined;
  }

  /** The tty of the USB device at `usbPath` (its CDC-ACM interface), if any. */
  async ttyOfUsb(usbPath: string): Promise<TtyInfo | undefined> {
    const devices = join(this.sysfsRoot, "bus", "usb", "devices");
    const entries = await readdir(devices).catch(() => [] as string[]);
    for (const e of entries.filter((x) => x.startsWith(`${usbPath}:`)).sort()) {
      const ttys = await readdir(join(devices, e, "tty")).catch(() => [] as string[]);
      if (ttys[0])
        return {
          name: ttys[0],
          devPath: join(this.devRoot, ttys[0]),
          usb: await this.usbAt(usbPath),
        };
    }
    return undefined;
  }

  /** CAN netdevs that belong to a Klipper USB-to-CAN bridge. */
  async bridges(): Promise<BridgeNetdev[]> {
    return (await this.usbNetdevs()).filter((n) => isKlipperBridge(n.usb));
  }

  /** Every network interface on a USB device (gs_usb adapters held by the kernel's driver among them). */
  async usbNetdevs(): Promise<BridgeNetdev[]> {
    const out: BridgeNetdev[] = [];
    const nets = await readdir(join(this.sysfsRoot, "class", "net")).catch(() => [] as string[]);
    for (const iface of nets.sort()) {
      const dev = await realpath(join(this.sysfsRoot, "class", "net", iface, "device")).catch(
        () => undefined,
      );
      if (!dev) continue;
      const usb = await this.readUsbDir(dirname(dev));
      if (usb) out.push({ iface, usb });
    }
    return out;
  }

  private async isTty(name: string): Promise<boolean> {
    return (
      (await lstat(join(this.sysfsRoot, "class", "tty", name)).catch(() => undefined)) !== undefined
    );
  }

  private async readUsbDir(dir: string): Promise<UsbInfo | undefined> {
    const vid = await text(join(dir, "idVendor"));
    if (!vid) return undefined;
    return {
      usbPath: basename(await realpath(dir).catch(() => dir)),
      vid: vid.toLowerCase(),
      pid: (await text(join(dir, "idProduct"))).toLowerCase(),
      manufacturer: await text(join(dir, "manufacturer")),
      product: await text(join(dir, "product")),
      serial: await text(join(dir, "serial")),
    };
  }
}
