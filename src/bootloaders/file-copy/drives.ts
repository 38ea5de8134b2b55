// Block devices and mounts as Linux shows them: /sys/block (size, ro, the
// USB device above each disk), /dev/disk/by-label, /proc/mounts. Finds the
// drive a bootloader presents by its USB id or volume label, and opens a
// path the user gave (a mount point, a block device, a FAT image). Roots
// are parameters so tests build fake trees.

import { lstat, readdir, readFile, readlink, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { decodeLabel, parseMounts, type MountEntry } from "./mounts.js";
import { WrongDriveError } from "./errors.js";

export interface UsbOfDisk {
  vid: string;
  pid: string;
  /** Port path ("1-1.3"): where the board comes back after its reboot. */
  usbPath: string;
}

export interface BlockDevice {
  /** Kernel name ("sdb1"). */
  name: string;
  /** Its device node under the dev root. */
  devPath: string;
  /** The whole disk it belongs to ("sdb"). */
  disk: string;
  sizeBytes: number;
  readOnly: boolean;
  /** A disk whose file system lives on its partitions. */
  partitioned: boolean;
  usb?: UsbOfDisk;
  label?: string;
}

/** A drive to copy to: mounted (written through its folder) or not (written with mtools). */
export type Drive =
  | { kind: "mounted"; path: string; mount: MountEntry; block?: BlockDevice }
  | { kind: "fat"; path: string; block?: BlockDevice };

const text = async (p: string): Promise<string> =>
  (await readFile(p, "utf8").catch(() => "")).trim();

export interface DriveRoots {
  sysRoot?: string;
  procRoot?: string;
  devRoot?: string;
}

export class DriveTree {
  readonly sysRoot: string;
  readonly procRoot: string;
  readonly devRoot: string;

  constructor(r: DriveRoots = {}) {
    this.sysRoot = r.sysRoot ?? "/sys";
    this.procRoot = r.procRoot ?? "/proc";
    this.devRoot = r.devRoot ?? "/dev";
  }

  async mounts(): Promise<MountEntry[]> {
    return parseMounts(await text(join(this.procRoot, "mounts")));
  }

  /** Every disk and partition, with its USB device and label where known. */
  async blockDevices(): Promise<BlockDevice[]> {
    const labels = await this.labels();
    const out: BlockDevice[] = [];
    const disks = await readdir(join(this.sysRoot, "block")).catch(() => [] as string[]);
    for (const disk of disks.sort()) {
      const dir = join(this.sysRoot, "block", disk);
      const usb = await this.usbAbove(dir);
      const entries = await readdir(dir).catch(() => [] as string[]);
      const parts: string[] = [];
      for (const e of entries.sort())
        if (e.startsWith(disk) && (await text(join(dir, e, "partition")))) parts.push(e);
      const dev = async (name: string, d: string): Promise<BlockDevice> => ({
        name,
        devPath: join(this.devRoot, name),
        disk,
        sizeBytes: Number(await text(join(d, "size"))) * 512 || 0,
        readOnly: (await text(join(d, "ro"))) === "1" || (await text(join(dir, "ro"))) === "1",
        partitioned: name === disk && parts.length > 0,
        ...(usb ? { usb } : {}),
        ...(labels.has(name) ? { label: labels.get(name)! } : {}),
      });
      out.push(await dev(disk, dir));
      for (const p of parts) out.push(await dev(p, join(dir, p)));
    }
    return out;
  }

  /**
   * The file-system devices that fit the row: its USB id, or one of its
   * volume labels. Partitioned disks stand for their partitions.
   */
  async find(o: { usbIds: readonly string[]; labels: readonly string[] }): Promise<BlockDevice[]> {
    return (await this.blockDevices()).filter(
      (b) =>
        !b.partitioned &&
        ((b.usb && o.usbIds.includes(`${b.usb.vid}:${b.usb.pid}`)) ||
          (b.label !== undefined && o.labels.includes(b.label))),
    );
  }

  /** The drive for a found device: its mount when mounted, else the device itself. */
  async driveOf(b: BlockDevice): Promise<Drive> {
    const m = await this.mountOf(b.name);
    return m
      ? { kind: "mounted", path: m.target, mount: m, block: b }
      : { kind: "fat", path: b.devPath, block: b };
  }

  /**
   * A path as given: a mount point, a block device (its mount when it is
   * mounted: writing under a mounted file system would corrupt it), or a FAT
   * image file. Undefined when nothing is there (yet). Throws
   * WrongDriveError for a folder that is no mount point.
   */
  async open(path: string, target: string): Promise<Drive | undefined> {
    const full = resolve(path);
    const st = await stat(full).catch(() => undefined);
    if (!st) return undefined;
    const real = await realpath(full);
    const blocks = await this.blockDevices();
    if (st.isDirectory()) {
      const m = (await this.mounts()).find((x) => x.target === real || x.target === full);
      if (!m)
        throw new WrongDriveError(
          path,
          target,
          "not-a-drive",
          "a mount point",
          "a folder that is no mount point",
        );
      const block = blocks.find((b) => b.name === basename(m.source));
      return { kind: "mounted", path: real, mount: m, ...(block ? { block } : {}) };
    }
    // A device node by its own name (under the dev root it may be a link, as by-id names are).
    const inDev = (p: string) => dirname(p) === resolve(this.devRoot);
    const block = blocks.find(
      (b) =>
        (inDev(full) && b.name === basename(full)) ||
        ((st.isBlockDevice() || inDev(real)) && b.name === basename(real)),
    );
    if (block) return this.driveOf(block);
    if (st.isFile()) return { kind: "fat", path: real };
    throw new WrongDriveError(
      path,
      target,
      "not-a-drive",
      "a drive",
      "neither a folder, a block device nor a file",
    );
  }

  /** Is the drive still there (its mount listed, its block device in sysfs)? Images always are. */
  async present(d: Drive): Promise<boolean> {
    if (d.kind === "mounted" && !(await this.mounts()).some((m) => m.target === d.path))
      return false;
    if (d.block) return (await this.blockDevices()).some((b) => b.name === d.block!.name);
    return true;
  }

  private async mountOf(name: string): Promise<MountEntry | undefined> {
    for (const m of await this.mounts()) {
      let src = m.source;
      if (src.startsWith("/dev/disk/")) {
        const link = join(this.devRoot, src.slice("/dev/".length));
        const to = await readlink(link).catch(() => undefined);
        if (to) src = to;
      }
      if (basename(src) === name) return m;
    }
    return undefined;
  }

  private async labels(): Promise<Map<string, string>> {
    const dir = join(this.devRoot, "disk", "by-label");
    const out = new Map<string, string>();
    for (const l of await readdir(dir).catch(() => [] as string[])) {
      const to = await readlink(join(dir, l)).catch(() => undefined);
      if (to) out.set(basename(to), decodeLabel(l));
    }
    return out;
  }

  /** The USB device a disk hangs off: the nearest parent folder with an idVendor. */
  private async usbAbove(diskDir: string): Promise<UsbOfDisk | undefined> {
    let d = await realpath(diskDir).catch(() => undefined);
    const top = resolve(this.sysRoot);
    while (d && d.startsWith(top) && d !== top) {
      const vid = await text(join(d, "idVendor"));
      if (vid && (await lstat(join(d, "idProduct")).catch(() => undefined)))
        return {
          vid: vid.toLowerCase(),
          pid: (await text(join(d, "idProduct"))).toLowerCase(),
          usbPath: basename(d),
        };
      d = dirname(d);
    }
    return undefined;
  }
}
