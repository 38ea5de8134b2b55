// Shared set-up for the file-copy tests: a fake drive tree per test, images
// of the rows' chips, bootloader drives (mounted folders or FAT images) and
// a flash through the library as the CLI does it.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BatchEvent } from "../../../src/flasher/flash-boards.js";
import { flashBoards } from "../../../src/flasher/flash-boards.js";
import { prepareRequests } from "../../../src/flasher/requests.js";
import { klipperImage } from "../../../src/sim/klipper-image.js";
import { findTarget } from "../../../src/targets/index.js";
import { BootloaderDriveModel, type DriveModelOptions } from "../../fakes/bootloader-drive.js";
import { FakeDriveTree, type FakeDrive } from "../../fakes/drive-tree.js";
import { makeFatImage } from "../../fakes/fat.js";

export const RP2_INFO = "UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n";
export const METRO_INFO =
  "UF2 Bootloader v3.7.0 SFHWRO\nModel: Metro M4\nBoard-ID: SAMD51J19A-Metro-v0\n";
export const MIB = 1024 * 1024;

export const RP2_USB = {
  vid: "2e8a",
  pid: "0003",
  manufacturer: "Raspberry Pi",
  product: "RP2 Boot",
  serial: "E0C9125B",
};
export const MSC_USB = {
  vid: "1209",
  pid: "db42",
  manufacturer: "Telekatz",
  product: "MSC Bootloader",
  serial: "1",
};
export const METRO_USB = {
  vid: "239a",
  pid: "0021",
  manufacturer: "Adafruit",
  product: "Metro M4",
  serial: "2",
};

export class Rig {
  readonly dir = mkdtempSync(join(tmpdir(), "canflash-copy-test-"));
  readonly tree = new FakeDriveTree();
  readonly models: BootloaderDriveModel[] = [];
  readonly events: BatchEvent[] = [];
  private n = 0;

  /** A mounted drive: a folder with `files`, listed in the fake /proc/mounts. */
  mounted(
    d: Omit<FakeDrive, "mountDir" | "image" | "disk"> & { files?: Record<string, string> },
  ): FakeDrive {
    const mountDir = join(this.dir, `mnt${this.n}`);
    mkdirSync(mountDir);
    for (const [k, v] of Object.entries(d.files ?? {})) writeFileSync(join(mountDir, k), v);
    const drive: FakeDrive = { ...d, disk: `sd${"bcdefgh"[this.n++]}`, mountDir };
    this.tree.plugDrive(drive);
    return drive;
  }

  /** An unmounted drive: its device node is a real FAT image. */
  unmounted(
    d: Omit<FakeDrive, "mountDir" | "image" | "disk"> & { files?: Record<string, string> },
  ): FakeDrive {
    const image = makeFatImage(join(this.dir, `img${this.n}.img`), {
      ...(d.label ? { label: d.label } : {}),
      kib: 4096,
      files: d.files ?? {},
    });
    const drive: FakeDrive = { ...d, disk: `sd${"bcdefgh"[this.n++]}`, image };
    this.tree.plugDrive(drive);
    return drive;
  }

  model(d: FakeDrive, o: DriveModelOptions): BootloaderDriveModel {
    const m = new BootloaderDriveModel(this.tree, d, o).start();
    this.models.push(m);
    return m;
  }

  file(name: string, bytes: Uint8Array): string {
    const p = join(this.dir, name);
    writeFileSync(p, bytes);
    return p;
  }

  async flash(target: string, file: string, o: { device?: string; dryRun?: boolean } = {}) {
    const requests = await prepareRequests(
      [
        {
          label: target,
          ...(o.device ? { device: o.device } : {}),
          iface: "can0",
          file,
          target: findTarget(target),
        },
      ],
      { cwd: this.dir },
    );
    const [out] = await flashBoards(requests, {
      klipper: {
        stopKlipper: false,
        cwd: this.dir,
        host: { systemctl: null, moonrakerUrl: null, socketPaths: [], procRoot: this.tree.proc },
      },
      ...this.tree.roots,
      lockDir: this.dir,
      ...(o.dryRun ? { dryRun: true } : {}),
      onEvent: (e) => this.events.push(e),
    });
    return out!;
  }

  infos(): string[] {
    return this.events.flatMap((e) =>
      e.type === "board" && e.event.type === "info" ? [e.event.message] : [],
    );
  }

  ls(d: FakeDrive): string[] {
    return readdirSync(d.mountDir!).sort();
  }

  cleanup(): void {
    for (const m of this.models) m.stop();
    this.tree.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** An RP2040 Klipper build: boot2 in the first 256 bytes, the vector table after it. */
export function rp2040Image(size = 12 * 1024, seed = 3): Uint8Array {
  const img = klipperImage({ mcu: "rp2040", appStart: 0x10000000, size, seed, transport: "usb" });
  const dv = new DataView(img.buffer, img.byteOffset);
  dv.setUint32(0x100, 0x20042000, true);
  dv.setUint32(0x104, 0x100001f7, true);
  return img;
}
