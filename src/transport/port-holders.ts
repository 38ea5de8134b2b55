// Which processes hold a device open, from /proc/<pid>/fd symlinks (Linux).
// Used before opening a serial port: a port Klipper or ModemManager holds
// is reported with the process, never fought over.

import { readdir, readFile, readlink, realpath } from "node:fs/promises";
import { join } from "node:path";

export interface PortHolder {
  pid: number;
  /** Short command name (/proc/<pid>/comm). */
  command: string;
  /** Full command line. */
  cmdline: string;
}

/** Processes (other than this one) with `device` open. Empty when /proc is unavailable. */
export async function findPortHolders(
  device: string,
  procRoot = "/proc",
  selfPid = process.pid,
): Promise<PortHolder[]> {
  let target: string;
  try {
    target = await realpath(device);
  } catch {
    target = device;
  }
  let pids: string[];
  try {
    pids = (await readdir(procRoot)).filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
  const holders: PortHolder[] = [];
  for (const p of pids) {
    const pid = Number(p);
    if (pid === selfPid) continue;
    let fds: string[];
    try {
      fds = await readdir(join(procRoot, p, "fd"));
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      const link = await readlink(join(procRoot, p, "fd", fd)).catch(() => "");
      if (link === target) {
        const command = (await readFile(join(procRoot, p, "comm"), "utf8").catch(() => "?")).trim();
        const cmdline = (await readFile(join(procRoot, p, "cmdline"), "utf8").catch(() => ""))
          .split("\0")
          .filter(Boolean)
          .join(" ");
        holders.push({ pid, command, cmdline });
        break;
      }
    }
  }
  return holders;
}
