// Real FAT images for tests: made by Debian's mkfs.vfat (dosfstools), read
// back with mtools and checked with fsck.vfat -n; a sector device over the
// bytes in memory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SectorDevice } from "../../../src/entry/fat/volume.js";

const dirs: string[] = [];
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "canflash-fat-"));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A fresh FAT image of `mib` MiB made by mkfs.vfat with `-F bits`; returns its path. */
export function mkfs(bits: 12 | 16 | 32, mib: number, extra: string[] = []): string {
  const p = join(tempDir(), `fat${bits}.img`);
  writeFileSync(p, new Uint8Array(mib * 1024 * 1024));
  execFileSync("mkfs.vfat", ["-F", String(bits), ...extra, p], { stdio: "ignore" });
  return p;
}

const ENV = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
export const mdir = (img: string): string =>
  execFileSync("mdir", ["-i", img, "-b", "::/"], { env: ENV }).toString();
export const mtype = (img: string, name: string): Buffer =>
  execFileSync("mcopy", ["-i", img, `::/${name}`, "-"], { env: ENV });
export const mcopyIn = (img: string, name: string, data: Uint8Array): void => {
  const src = join(tempDir(), "src.bin");
  writeFileSync(src, data);
  execFileSync("mcopy", ["-i", img, src, `::/${name}`], { env: ENV });
};
/** fsck.vfat -n: exit 0 and no complaints, else its output. */
export function fsck(img: string): string {
  try {
    execFileSync("fsck.vfat", ["-n", img], { stdio: "pipe" });
    return "clean";
  } catch (e) {
    return String((e as { stdout?: Buffer }).stdout ?? e);
  }
}

/** The image's bytes as a sector device; save() writes them back. */
export function imageDevice(
  path: string,
): SectorDevice & { bytes: Uint8Array; save(): void; writes: number[] } {
  const bytes = new Uint8Array(readFileSync(path));
  const d = {
    bytes,
    writes: [] as number[],
    read: async (s: number) => bytes.slice(s * 512, (s + 1) * 512),
    write: async (s: number, data: Uint8Array) => {
      d.writes.push(s);
      bytes.set(data, s * 512);
    },
    save: () => writeFileSync(path, bytes),
  };
  return d;
}
