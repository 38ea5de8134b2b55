// A FAT volume's root folder, read and written durably: through its mount
// (write, fsync of the file, rename, fsync of the folder) or, unmounted,
// with mtools (then an fsync of the image or device, so the bytes have left
// the page cache before canflash says they are written). FAT names are
// case-insensitive: lookups ignore case.

import {
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
  type FileHandle,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DriveAccessError, DriveReadOnlyError } from "./errors.js";
import type { Drive } from "./drives.js";
import { fatList, mtool } from "./mtools.js";

export interface Volume {
  /** Where it is, for messages. */
  readonly where: string;
  /** Names in the root folder. */
  list(): Promise<string[]>;
  /** A root file's bytes (any case), or undefined. */
  read(name: string): Promise<Uint8Array | undefined>;
  /**
   * Writes a root file and makes it durable. With `viaTemp` the bytes go to
   * that name first and are renamed once complete: a cut copy never has the
   * final name. With `mayVanish` (a bootloader's drive, which reboots the
   * moment it has the file) the device going away once the data is out is
   * no failure: the caller's watch for the drive leaving tells what happened.
   */
  write(name: string, bytes: Uint8Array, o?: WriteOptions): Promise<void>;
  /** Removes a root file (any case); false when there was none. */
  remove(name: string): Promise<boolean>;
  /** The first 512 bytes of the device or image (undefined for a mount without a readable device). */
  bootSector(): Promise<Uint8Array | undefined>;
}

const accessError = (where: string, e: unknown): unknown => {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EROFS") return new DriveReadOnlyError(where, "mount");
  if (code === "EACCES" || code === "EPERM" || code === "EBUSY")
    return new DriveAccessError(where, code);
  return e;
};

export interface WriteOptions {
  viaTemp?: string;
  mayVanish?: boolean;
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** What a write to a device that has just gone away fails with. */
const VANISHED = new Set(["ENOENT", "ENODEV", "ENXIO", "EIO"]);

/** Runs the steps after the data is out; a vanished device is no failure where it may vanish. */
async function tail(where: string, mayVanish: boolean | undefined, body: () => Promise<void>) {
  try {
    await body();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const gone = !(await stat(where).then(
      () => true,
      () => false,
    ));
    if (mayVanish && (gone || (code !== undefined && VANISHED.has(code)))) return;
    throw e;
  }
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } catch (e) {
    // Some file systems take no fsync on a folder; the file itself was synced.
    if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
  } finally {
    await fh.close();
  }
}

class MountedVolume implements Volume {
  constructor(
    readonly where: string,
    private readonly device: string | undefined,
  ) {}

  list = () => readdir(this.where);

  private async actual(name: string): Promise<string | undefined> {
    return (await this.list()).find((n) => same(n, name));
  }

  async read(name: string) {
    const n = await this.actual(name);
    return n ? new Uint8Array(await readFile(join(this.where, n))) : undefined;
  }

  async write(name: string, bytes: Uint8Array, o: WriteOptions = {}) {
    const { viaTemp } = o;
    const first = join(this.where, viaTemp ?? name);
    let fh: FileHandle;
    try {
      fh = await open(first, "w");
    } catch (e) {
      throw accessError(this.where, e);
    }
    try {
      await fh.writeFile(bytes);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw accessError(this.where, e);
    }
    await tail(this.where, o.mayVanish, async () => {
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (viaTemp) {
        const old = await this.actual(name);
        if (old) await unlink(join(this.where, old));
        await rename(first, join(this.where, name));
      }
      await fsyncPath(this.where, "r");
    });
  }

  async remove(name: string) {
    const n = await this.actual(name);
    if (!n) return false;
    await unlink(join(this.where, n)).catch((e: unknown) => {
      throw accessError(this.where, e);
    });
    return true;
  }

  async bootSector() {
    return this.device ? readBoot(this.device).catch(() => undefined) : undefined;
  }
}

async function readBoot(path: string): Promise<Uint8Array> {
  const fh = await open(path, "r");
  try {
    const buf = new Uint8Array(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

class FatImageVolume implements Volume {
  constructor(readonly where: string) {}

  list = () => fatList(this.where);

  private async actual(name: string): Promise<string | undefined> {
    return (await this.list()).find((n) => same(n, name));
  }

  async read(name: string) {
    const n = await this.actual(name);
    return n ? new Uint8Array(await mtool("mcopy", this.where, [`::/${n}`, "-"])) : undefined;
  }

  async write(name: string, bytes: Uint8Array, o: WriteOptions = {}) {
    const { viaTemp } = o;
    // mtools needs write access; find out here, with errno, rather than from its words.
    await fsyncPath(this.where, "r+").catch((e: unknown) => {
      throw accessError(this.where, e);
    });
    const dir = await mkdtemp(join(tmpdir(), "canflash-copy-"));
    try {
      const src = join(dir, "firmware");
      await writeFile(src, bytes);
      await tail(this.where, o.mayVanish, async () => {
        await mtool("mcopy", this.where, ["-o", src, `::/${viaTemp ?? name}`]);
        if (viaTemp) {
          await this.remove(name);
          await mtool("mren", this.where, [`::/${viaTemp}`, `::/${name}`]);
        }
        await fsyncPath(this.where, "r+");
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async remove(name: string) {
    const n = await this.actual(name);
    if (!n) return false;
    await mtool("mdel", this.where, [`::/${n}`]);
    return true;
  }

  bootSector = () => readBoot(this.where);
}

/** The volume of a drive. */
export function volumeOf(d: Drive): Volume {
  return d.kind === "mounted"
    ? new MountedVolume(d.path, d.block?.devPath)
    : new FatImageVolume(d.path);
}
