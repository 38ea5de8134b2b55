// One canflash at a time per board: a lock file per CAN interface + UUID,
// per serial device (its real path) and per USB device as named, holding the owner's PID. A second
// process gets BoardLockedError naming that PID; a lock whose PID is gone
// (a killed run) is taken over. Locks live in /run/lock when it is writable,
// else in the system's temporary folder.

import type { OpenOcdLink } from "../flash-api/driver.js";
import {
  closeSync,
  constants,
  openSync,
  readFileSync,
  realpathSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { accessSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    BOARD_LOCKED: true;
  }
}

export class BoardLockedError extends CanflashError {
  constructor(
    readonly board: string,
    /** The process holding it. */
    readonly pid: number,
    readonly lockFile: string,
  ) {
    super("BOARD_LOCKED", `${board} is being flashed by another canflash (PID ${pid})`);
  }
}

export interface LockKey {
  /** For messages: the label. */
  board: string;
  /** "can:can0:aabbccddeeff" or "tty:/dev/ttyACM0". */
  key: string;
}

/** The folder for lock files: $CANFLASH_LOCK_DIR, else /run/lock if writable, else the temp folder. */
export function defaultLockDir(env: Record<string, string | undefined> = process.env): string {
  if (env.CANFLASH_LOCK_DIR) return env.CANFLASH_LOCK_DIR;
  try {
    accessSync("/run/lock", constants.W_OK);
    return "/run/lock";
  } catch {
    return tmpdir();
  }
}

/** The lock key of a CAN node or a tty (a by-id link and its target lock the same file). */
export function lockKeyOf(
  link:
    | { kind: "can"; iface: string; uuid: string }
    | { kind: "serial"; device: string }
    | { kind: "drive"; device?: string }
    | { kind: "usb"; spec: string }
    | OpenOcdLink,
): string {
  if (link.kind === "can") return `can:${link.iface}:${link.uuid}`;
  // One OpenOCD per debug adapter: the RPC server, the GPIO pins or the config file.
  if (link.kind === "openocd")
    return link.rpc
      ? `openocd:${link.rpc.host}:${link.rpc.port}`
      : link.gpio
        ? `openocd:gpio:${link.gpio.gpiochip ?? 0}:${link.gpio.swclk}:${link.gpio.swdio}`
        : `openocd:${link.config}`;
  if (link.kind === "usb") return `usb:${link.spec.replace(/^usb:?/i, "") || "by-row"}`;
  // A drive found by its USB id has no path yet: one such copy at a time.
  if (link.device === undefined) return "drive:auto";
  let path = link.device;
  try {
    path = realpathSync(link.device);
  } catch {
    // not there (yet): lock the name as given
  }
  return `${link.kind === "drive" ? "drive" : "tty"}:${path}`;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * A process's start time in clock ticks since boot (/proc/<pid>/stat field
 * 22): with the PID it names one process for good, so a lock left by a killed
 * canflash is not taken for held when the kernel gives its PID to another
 * process. Undefined where /proc cannot tell (not Linux).
 */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count after its ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Is the lock's holder (its "pid starttime" line) still the process that wrote it? */
function heldBy(text: string): number | undefined {
  const [pidText, start] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const now = startTimeOf(pid);
  if (start !== undefined && now !== undefined && now !== start) return undefined; // PID reused
  return pid;
}

const fileOf = (dir: string, key: string) =>
  join(dir, `canflash-${key.replace(/[^A-Za-z0-9._-]/g, "_")}.lock`);

/**
 * Takes every lock or none: throws BoardLockedError for the first one held by
 * a live process (after releasing what it took). Returns the release function.
 */
export function lockBoards(keys: readonly LockKey[], dir = defaultLockDir()): () => void {
  const taken: string[] = [];
  const release = () => {
    for (const f of taken.splice(0)) {
      try {
        if (Number(readFileSync(f, "utf8").trim().split(/\s+/)[0]) === process.pid) unlinkSync(f);
      } catch {
        // already gone
      }
    }
  };
  try {
    for (const k of keys) {
      const file = fileOf(dir, k.key);
      for (let attempt = 0; ; attempt++) {
        try {
          const fd = openSync(file, "wx", 0o644);
          const start = startTimeOf(process.pid);
          writeSync(fd, start === undefined ? String(process.pid) : `${process.pid} ${start}`);
          closeSync(fd);
          taken.push(file);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
          const pid = heldBy(readFileSync(file, "utf8"));
          if (pid !== undefined) throw new BoardLockedError(k.board, pid, file);
          unlinkSync(file); // stale: its process is gone (or its PID now names another)
        }
      }
    }
  } catch (e) {
    release();
    throw e;
  }
  return release;
}
