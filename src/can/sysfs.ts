// Reading network interfaces from sysfs (/sys/class/net). The root is a
// parameter so tests can point it at a fake tree.

import { readFile, readdir, realpath } from "node:fs/promises";
import { join, sep } from "node:path";

/** Linux ARPHRD_CAN. */
export const ARPHRD_CAN = 280;
const IFF_UP = 0x1;

export interface SysfsInterface {
  name: string;
  /** ARPHRD_* link type (280 for CAN). */
  type: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  operState: string;
  txQueueLen: number | undefined;
  stats: Record<string, number>;
  /**
   * A software interface (vcan, vxcan, slcan): its node lives under
   * /sys/devices/virtual. Netlink reports no bit timing for these.
   */
  virtual: boolean;
}

const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** True for strings that can be a Linux interface name (and are safe in a sysfs path). */
export function isValidInterfaceName(name: string): boolean {
  return IFNAME.test(name) && name !== "." && name !== "..";
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    return undefined;
  }
}

/** Reads one interface, or undefined when it does not exist. */
export async function readSysfsInterface(
  name: string,
  sysfsRoot = "/sys",
  o: { statistics?: boolean } = {},
): Promise<SysfsInterface | undefined> {
  if (!isValidInterfaceName(name)) return undefined;
  const dir = join(sysfsRoot, "class", "net", name);
  const type = await readText(join(dir, "type"));
  if (type === undefined) return undefined;
  const [flagText, txq, operState, real] = await Promise.all([
    readText(join(dir, "flags")),
    readText(join(dir, "tx_queue_len")),
    readText(join(dir, "operstate")),
    realpath(dir).catch(() => dir),
  ]);
  const flags = parseInt(flagText ?? "0", 16);
  const stats: Record<string, number> = {};
  // ~25 files, each a few system calls: read only when asked (opening a socket needs none)
  if (o.statistics ?? true) {
    try {
      for (const f of await readdir(join(dir, "statistics"))) {
        const v = await readText(join(dir, "statistics", f));
        if (v !== undefined && /^\d+$/.test(v)) stats[f] = Number(v);
      }
    } catch {
      // statistics are optional
    }
  }
  return {
    name,
    type: Number(type),
    up: (flags & IFF_UP) !== 0,
    operState: operState ?? "unknown",
    txQueueLen: txq !== undefined ? Number(txq) : undefined,
    stats,
    virtual: real.split(sep).join("/").includes("/devices/virtual/"),
  };
}

/** Names of all interfaces under /sys/class/net. */
export async function listSysfsInterfaces(sysfsRoot = "/sys"): Promise<string[]> {
  try {
    return (await readdir(join(sysfsRoot, "class", "net"))).sort();
  } catch {
    return [];
  }
}

/** The CAN interfaces (link type 280) under /sys/class/net. */
export async function listSysfsCanInterfaces(sysfsRoot = "/sys"): Promise<SysfsInterface[]> {
  const out: SysfsInterface[] = [];
  for (const name of await listSysfsInterfaces(sysfsRoot)) {
    const info = await readSysfsInterface(name, sysfsRoot);
    if (info && info.type === ARPHRD_CAN) out.push(info);
  }
  return out;
}
