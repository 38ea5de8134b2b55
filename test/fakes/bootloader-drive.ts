// A bootloader that shows itself as a USB drive, as the firmware does: a
// UF2 drive (RP2040 ROM, uf2-samdx1) flashes the blocks of its own family
// and reboots once it has every block of the file (blocks of another family
// are ignored and it stays); the MSC bootloader takes the data of the file
// copied to it and reboots shortly after the last write. Rebooting pulls
// the drive from the fake tree (its mount, block device and USB device);
// then the board comes back on the same USB port as its application.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FakeDrive, FakeDriveTree } from "./drive-tree.js";
import { fatGet, fatNames } from "./fat.js";
import type { FakeUsbDevice } from "./usb-sysfs.js";

export interface DriveModelOptions {
  kind: "uf2" | "msc";
  /** UF2: the family id this bootloader flashes. */
  family?: number;
  /** What comes back on the port after the reboot (null: nothing, e.g. a CAN build). */
  backAs?: Omit<FakeUsbDevice, "usbPath" | "tty" | "net"> | null;
  /** Names that were on the drive before the copy (INFO_UF2.TXT …): not the copy. */
  own?: readonly string[];
  pollMs?: number;
}

export const KLIPPER_USB = {
  vid: "1d50",
  pid: "614e",
  manufacturer: "Klipper",
  product: "rp2040",
  serial: "E66118F5D7",
};

export class BootloaderDriveModel {
  /** Flash as the bootloader wrote it: address → bytes. */
  readonly flash = new Map<number, Uint8Array>();
  rebooted = false;
  /** Files that landed, by name, as last seen. */
  readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private backTimer: NodeJS.Timeout | undefined;
  private lastSize = -1;

  constructor(
    private readonly tree: FakeDriveTree,
    private readonly drive: FakeDrive,
    private readonly o: DriveModelOptions,
  ) {}

  start(): this {
    this.timer = setInterval(() => this.poll(), this.o.pollMs ?? 15);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.backTimer);
  }

  private files(): Array<{ name: string; read: () => Uint8Array | undefined }> {
    const own = new Set((this.o.own ?? []).map((n) => n.toUpperCase()));
    const names = this.drive.mountDir
      ? readdirSync(this.drive.mountDir)
      : fatNames(this.drive.image!);
    return names
      .filter((n) => !own.has(n.toUpperCase()))
      .map((name) => ({
        name,
        read: () =>
          this.drive.mountDir
            ? new Uint8Array(readFileSync(join(this.drive.mountDir, name)))
            : fatGet(this.drive.image!, name),
      }));
  }

  private poll(): void {
    if (this.rebooted) return;
    for (const f of this.files()) {
      this.seen.add(f.name);
      const bytes = f.read();
      if (!bytes) continue;
      if (this.o.kind === "uf2" ? this.takeUf2(bytes) : this.takeMsc(bytes)) return this.reboot();
    }
  }

  /** Every block of the file, of this family: flashed. */
  private takeUf2(bytes: Uint8Array): boolean {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const got = new Map<number, { addr: number; data: Uint8Array }>();
    let total = -1;
    for (let o = 0; o + 512 <= bytes.length; o += 512) {
      if (dv.getUint32(o, true) !== 0x0a324655 || dv.getUint32(o + 508, true) !== 0x0ab16f30)
        continue;
      const flags = dv.getUint32(o + 8, true);
      if (flags & 0x2000 && dv.getUint32(o + 28, true) !== this.o.family) continue; // not ours: ignored
      const size = dv.getUint32(o + 16, true);
      got.set(dv.getUint32(o + 20, true), {
        addr: dv.getUint32(o + 12, true),
        data: bytes.slice(o + 32, o + 32 + size),
      });
      total = dv.getUint32(o + 24, true);
    }
    if (total < 0 || got.size < total) return false;
    for (const b of got.values()) this.flash.set(b.addr, b.data);
    return true;
  }

  /** The copy stopped growing between two polls: taken (the bootloader's quiet timeout). */
  private takeMsc(bytes: Uint8Array): boolean {
    if (bytes.length === 0 || bytes.length !== this.lastSize) {
      this.lastSize = bytes.length;
      return false;
    }
    this.flash.set(0, bytes);
    return true;
  }

  private reboot(): void {
    this.rebooted = true;
    this.stop();
    this.tree.pullDrive(this.drive.usb.usbPath);
    if (this.o.backAs)
      this.backTimer = setTimeout(
        () => this.tree.plug({ ...this.o.backAs!, usbPath: this.drive.usb.usbPath }),
        30,
      );
  }

  /** The flashed bytes from `base`, as one image of `length` bytes. */
  image(base: number, length: number): Uint8Array {
    const out = new Uint8Array(length).fill(0xff);
    for (const [addr, data] of this.flash)
      out.set(data.subarray(0, Math.max(0, length - (addr - base))), addr - base);
    return out;
  }
}
