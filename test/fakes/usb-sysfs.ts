// A fake USB topology in a temp dir, laid out like Linux sysfs (device dirs
// under devices/, interface dirs inside them, bus/usb/devices and class/*
// as symlinks), plus a dev/ dir whose tty nodes link to pseudo-terminals
// and a dev/serial/by-id/ like udev makes. Boards can be plugged, unplugged
// and re-enumerated as another USB device on the same port.
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsbTree } from "../../src/transport/usb-tree.js";

export interface FakeUsbDevice {
  usbPath: string;
  vid: string;
  pid: string;
  manufacturer: string;
  product: string;
  serial: string;
  /** A CDC-ACM tty: its name and the pty it stands for. */
  tty?: { name: string; target: string };
  /** A gs_usb CAN netdev name. */
  net?: string;
}

export class FakeUsbSysfs {
  readonly root = mkdtempSync(join(tmpdir(), "canflash-usb-"));
  readonly sys = join(this.root, "sys");
  readonly dev = join(this.root, "dev");
  readonly tree = new UsbTree(this.sys, this.dev);

  constructor() {
    for (const d of ["devices/usb1", "bus/usb/devices", "class/tty", "class/net"])
      mkdirSync(join(this.sys, d), { recursive: true });
    mkdirSync(join(this.dev, "serial", "by-id"), { recursive: true });
  }

  /** Plugs a device in (replacing whatever was on that port). Returns its by-id path if it has a tty. */
  plug(d: FakeUsbDevice): string | undefined {
    this.unplug(d.usbPath);
    const devDir = join(this.sys, "devices", "usb1", d.usbPath);
    const ifName = `${d.usbPath}:1.0`;
    const ifDir = join(devDir, ifName);
    mkdirSync(ifDir, { recursive: true });
    const files: Record<string, string> = {
      idVendor: d.vid,
      idProduct: d.pid,
      manufacturer: d.manufacturer,
      product: d.product,
      serial: d.serial,
    };
    for (const [k, v] of Object.entries(files)) writeFileSync(join(devDir, k), `${v}\n`);
    symlinkSync(devDir, join(this.sys, "bus", "usb", "devices", d.usbPath));
    symlinkSync(ifDir, join(this.sys, "bus", "usb", "devices", ifName));
    if (d.tty) {
      mkdirSync(join(ifDir, "tty", d.tty.name), { recursive: true });
      mkdirSync(join(this.sys, "class", "tty", d.tty.name), { recursive: true });
      symlinkSync(ifDir, join(this.sys, "class", "tty", d.tty.name, "device"));
      symlinkSync(d.tty.target, join(this.dev, d.tty.name));
      const byId = join(
        this.dev,
        "serial",
        "by-id",
        `usb-${d.manufacturer}_${d.product}_${d.serial}-if00`,
      );
      symlinkSync(`../../${d.tty.name}`, byId);
      return byId;
    }
    if (d.net) {
      mkdirSync(join(ifDir, "net", d.net), { recursive: true });
      mkdirSync(join(this.sys, "class", "net", d.net), { recursive: true });
      symlinkSync(ifDir, join(this.sys, "class", "net", d.net, "device"));
    }
    return undefined;
  }

  /** Removes whatever is plugged at `usbPath` (and its tty/netdev). */
  unplug(usbPath: string): void {
    const devDir = join(this.sys, "devices", "usb1", usbPath);
    const ifDir = join(devDir, `${usbPath}:1.0`);
    for (const kind of ["tty", "net"] as const) {
      let names: string[] = [];
      try {
        names = readdirSync(join(ifDir, kind));
      } catch {
        // none
      }
      for (const n of names) {
        rmSync(join(this.sys, "class", kind, n), { recursive: true, force: true });
        if (kind === "tty") {
          rmSync(join(this.dev, n), { force: true });
          for (const link of readdirSync(join(this.dev, "serial", "by-id"))) {
            if (readlinkSync(join(this.dev, "serial", "by-id", link)).endsWith(`/${n}`)) {
              rmSync(join(this.dev, "serial", "by-id", link), { force: true });
            }
          }
        }
      }
    }
    rmSync(join(this.sys, "bus", "usb", "devices", usbPath), { force: true });
    rmSync(join(this.sys, "bus", "usb", "devices", `${usbPath}:1.0`), { force: true });
    rmSync(devDir, { recursive: true, force: true });
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
