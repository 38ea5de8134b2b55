// mtools (Debian's mtools: mdir, mcopy, mdel, mren) run through
// child_process for a FAT volume that is not mounted: an image file, or a
// bootloader drive nobody mounted (a headless Raspberry Pi). Why not a FAT
// writer of canflash's own: mtools is the tool people already use on such
// images, handles FAT12/16/32 and long names, and a copy is a handful of
// commands, not a file system to maintain and test.

import { execFile } from "node:child_process";
import { FatToolError, FatToolMissingError } from "./errors.js";

/** How long one mtools command may take (a 1 MiB copy to a slow SD reader is well under it). */
export const MTOOLS_TIMEOUT_MS = 60_000;

const ENV = {
  ...process.env,
  // Bootloader drives have odd geometries; mtools would refuse them without this.
  MTOOLS_SKIP_CHECK: "1",
};

/** Runs one mtools command on `image`; resolves its stdout (bytes). */
export function mtool(tool: string, image: string, args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      ["-i", image, ...args],
      { env: ENV, encoding: "buffer", timeout: MTOOLS_TIMEOUT_MS, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        if ((err as NodeJS.ErrnoException).code === "ENOENT")
          return reject(new FatToolMissingError(tool));
        const detail = stderr.toString("utf8").trim().split("\n")[0] || (err as Error).message;
        reject(new FatToolError(tool, image, detail));
      },
    );
  });
}

/** Names in the root folder of the FAT volume in `image`. */
export async function fatList(image: string): Promise<string[]> {
  const out = (
    await mtool("mdir", image, ["-b", "::/"]).catch((e: unknown) => {
      // An empty root folder: mdir says "No files" and fails.
      if (e instanceof FatToolError && /no files/i.test(e.detail)) return Buffer.alloc(0);
      throw e;
    })
  ).toString("utf8");
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("::/"))
    .map((l) => l.slice(3).replace(/\/$/, ""))
    .filter((n) => n.length > 0 && !n.includes("/"));
}
