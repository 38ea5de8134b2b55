// Fake block devices on top of the fake USB topology: a USB disk's
// sys/block/<disk> (size, ro, partitions) under its USB interface, its
// /dev node (a real FAT image file, so mtools works on it), a
// /dev/disk/by-label link, and a /proc/mounts line pointing at a real folder
// when "mounted". Drives can be plugged, mounted and pulled as a bootloader
// does when it reboots.
import {
  appendFileSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { FakeUsbSysfs, type FakeUsbDevice } from "./usb-sysfs.js";

export interface FakeDrive {
  usb: Omit<FakeUsbDevice, "tty" | "net">;
  /** Kernel disk name ("sdb"); the FAT is on its partition `${disk}1` unless `wholeDisk`. */
  disk: string;
  wholeDisk?: boolean;
  label?: string;
  sizeBytes: number;
  readOnly?: boolean;
  /** A FAT image file the device node stands for (unmounted drives). */
  image?: string;
  /** Mounted: the folder its files are in (a plain folder standing for the mount). */
  mountDir?: string;
  fstype?: string;
  mountOptions?: string;
}

export class FakeDriveTree extends FakeUsbSysfs {
  readonly proc = join(this.root, "proc");
  private readonly drives = new Map<string, FakeDrive>();

  constructor() {
    super();
    mkdirSync(join(this.sys, "block"), { recursive: true });
    mkdirSync(join(this.dev, "disk", "by-label"), { recursive: true });
    mkdirSync(this.proc, { recursive: true });
    writeFileSync(join(this.proc, "mounts"), "proc /proc proc rw,nosuid 0 0\n");
  }

  /** The file-system device name of a drive ("sdb1", or "sdb" for a whole-disk FAT). */
  static fsName(d: FakeDrive): string {
    return d.wholeDisk ? d.disk : `${d.disk}1`;
  }

  plugDrive(d: FakeDrive): string {
    this.plug({ ...d.usb });
    const ifDir = join(this.sys, "devices", "usb1", d.usb.usbPath, `${d.usb.usbPath}:1.0`);
    const diskDir = join(ifDir, "host0", "target0:0:0", "0:0:0:0", "block", d.disk);
    mkdirSync(diskDir, { recursive: true });
    const sectors = String(Math.floor(d.sizeBytes / 512));
    writeFileSync(join(diskDir, "size"), `${sectors}\n`);
    writeFileSync(join(diskDir, "ro"), d.readOnly ? "1\n" : "0\n");
    writeFileSync(join(diskDir, "removable"), "1\n");
    if (!d.wholeDisk) {
      const part = join(diskDir, `${d.disk}1`);
      mkdirSync(part, { recursive: true });
      writeFileSync(join(part, "partition"), "1\n");
      writeFileSync(join(part, "size"), `${sectors}\n`);
      writeFileSync(join(part, "ro"), d.readOnly ? "1\n" : "0\n");
    }
    symlinkSync(diskDir, join(this.sys, "block", d.disk));
    const name = FakeDriveTree.fsName(d);
    const node = join(this.dev, name);
    if (d.image) symlinkSync(d.image, node);
    else writeFileSync(node, "");
    if (d.label) {
      // Two drives with one label: udev's link points at the last one, as here.
      const link = join(this.dev, "disk", "by-label", d.label.replace(/ /g, "\\x20"));
      rmSync(link, { force: true });
      symlinkSync(`../../${name}`, link);
    }
    if (d.mountDir) {
      const esc = d.mountDir.replace(/ /g, "\\040");
      appendFileSync(
        join(this.proc, "mounts"),
        `/dev/${name} ${esc} ${d.fstype ?? "vfat"} ${d.mountOptions ?? "rw,nosuid,nodev,relatime"} 0 0\n`,
      );
    }
    this.drives.set(d.usb.usbPath, d);
    return d.mountDir ?? node;
  }

  /** A desktop's automounter mounting a plugged drive at `dir`. */
  mount(usbPath: string, dir: string): void {
    const d = this.drives.get(usbPath)!;
    d.mountDir = dir;
    appendFileSync(
      join(this.proc, "mounts"),
      `/dev/${FakeDriveTree.fsName(d)} ${dir} vfat rw,nosuid,nodev,relatime 0 0\n`,
    );
  }

  /** The drive leaves: its mount line, block device, label link and USB device go. */
  pullDrive(usbPath: string): void {
    const d = this.drives.get(usbPath);
    if (!d) return;
    const name = FakeDriveTree.fsName(d);
    const mounts = readFileSync(join(this.proc, "mounts"), "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith(`/dev/${name} `));
    writeFileSync(join(this.proc, "mounts"), `${mounts.join("\n")}\n`);
    rmSync(join(this.sys, "block", d.disk), { force: true });
    rmSync(join(this.dev, name), { force: true });
    if (d.label)
      rmSync(join(this.dev, "disk", "by-label", d.label.replace(/ /g, "\\x20")), { force: true });
    this.unplug(usbPath);
    this.drives.delete(usbPath);
  }

  /** Options for flashBoards / DriverEnv. */
  get roots(): { usbTree: FakeUsbSysfs["tree"]; procRoot: string; devRoot: string } {
    return { usbTree: this.tree, procRoot: this.proc, devRoot: this.dev };
  }
}
