// Real FAT file systems for tests, made and read with Debian's dosfstools
// and mtools (mkfs.vfat, mcopy, mdir, mren), as a user's card would be.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ENV = { ...process.env, MTOOLS_SKIP_CHECK: "1" };

/** A FAT image of `kib` KiB with `label` and root files. */
export function makeFatImage(
  path: string,
  o: { label?: string; kib?: number; files?: Record<string, string | Uint8Array> } = {},
): string {
  rmSync(path, { force: true });
  execFileSync(
    "mkfs.vfat",
    ["-C", ...(o.label ? ["-n", o.label] : []), path, String(o.kib ?? 8192)],
    {
      stdio: "ignore",
    },
  );
  for (const [name, data] of Object.entries(o.files ?? {})) fatPut(path, name, data);
  return path;
}

export function fatPut(image: string, name: string, data: string | Uint8Array): void {
  const dir = mkdtempSync(join(tmpdir(), "canflash-fat-"));
  try {
    writeFileSync(join(dir, "f"), data);
    execFileSync("mcopy", ["-i", image, "-o", join(dir, "f"), `::/${name}`], { env: ENV });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Root names, as mdir lists them. */
export function fatNames(image: string): string[] {
  try {
    return execFileSync("mdir", ["-i", image, "-b", "::/"], { env: ENV, encoding: "utf8" })
      .split("\n")
      .filter((l) => l.startsWith("::/"))
      .map((l) => l.slice(3));
  } catch {
    return [];
  }
}

/** A root file's bytes, or undefined. */
export function fatGet(image: string, name: string): Uint8Array | undefined {
  try {
    return new Uint8Array(
      execFileSync("mcopy", ["-i", image, `::/${name}`, "-"], {
        env: ENV,
        stdio: ["ignore", "pipe", "ignore"],
      }),
    );
  } catch {
    return undefined;
  }
}

export function fatRename(image: string, from: string, to: string): void {
  execFileSync("mren", ["-i", image, `::/${from}`, `::/${to}`], { env: ENV });
}
