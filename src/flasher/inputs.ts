// The small pieces of input handling a command line needs before it knows
// what it will do (so `--help` loads nothing else): the default firmware
// path, ~ expansion, serial line modes.

import { homedir } from "node:os";
import { resolve } from "node:path";

export { parseSerialMode, type SerialMode } from "../transport/serial-mode.js";
export { parseLineSequence, type LineSequence } from "../transport/line-sequence.js";

/** flashtool's default firmware path. */
export const DEFAULT_FIRMWARE = "~/klipper/out/klipper.bin";

/** A path as typed: ~ is the home folder, relative paths are relative to `cwd`. */
export function expandPath(path: string, cwd: string, home = homedir()): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return resolve(home, path.slice(2));
  return resolve(cwd, path);
}
