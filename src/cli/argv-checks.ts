// Every argument is used or refused: the top-level command line (flashtool's
// flags) takes one action, its own options and at most one file. Anything
// else — two actions, a file with -q, an interface name where a file goes,
// flashing options on a query — is a UsageError before anything is opened.

import { existsSync } from "node:fs";
import { UsageError } from "./usage-error.js";

export interface RootArgs {
  /** Options the user typed (their long names, camelCased as commander keys them). */
  given: ReadonlySet<string>;
  /** Positional arguments. */
  args: readonly string[];
  /** Subcommand names, for "did you mean". */
  commands: readonly string[];
  cwd: string;
}

const FLASH_ONLY = [
  "file",
  "firmware",
  "manifest",
  "jobs",
  "keepGoing",
  "dryRun",
  "skipCurrent",
  "force",
  "mcu",
  "address",
  "backup",
  "chipErase",
  "bootloaderSize",
] as const;
/** How an SWD chip is reached: for flashing and -s/-r, not for -q. */
const SWD_REACH = [
  "openocdConfig",
  "swd",
  "swdDriver",
  "swdSpeed",
  "swdChip",
  "openocdBin",
  "workAreaSize",
  "connectUnderReset",
] as const;
const FLAG: Record<string, string> = {
  query: "-q",
  status: "-s",
  requestBootloader: "-r",
  uuid: "-u",
  device: "-d",
  file: "-f",
  firmware: "--firmware",
  baud: "-b",
  serialMode: "--serial-mode",
  resetSequence: "--reset-sequence",
  target: "--target",
  manifest: "--manifest",
  jobs: "--jobs",
  keepGoing: "--keep-going",
  dryRun: "--dry-run",
  skipCurrent: "--skip-current",
  force: "--force",
  mcu: "--mcu",
  openocdConfig: "--openocd-config",
  swd: "--swd",
  swdDriver: "--swd-driver",
  swdSpeed: "--swd-speed",
  swdChip: "--swd-chip",
  address: "--address",
  openocdBin: "--openocd-bin",
  backup: "--backup/--no-backup",
  chipErase: "--no-chip-erase",
  bootloaderSize: "--bootloader-size",
  workAreaSize: "--work-area-size",
  connectUnderReset: "--connect-under-reset",
  queryMs: "--query-ms",
  identify: "--no-identify",
  katapultInfo: "--katapult-info",
};

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
  return d[a.length]![b.length]!;
}

/** A word that is no file but almost a subcommand: "flsh" → "flash". */
export function misspeltCommand(
  word: string,
  commands: readonly string[],
  cwd: string,
): string | undefined {
  if (/[./~]/.test(word) || existsSync(`${cwd}/${word}`)) return undefined;
  const best = commands
    .map((c) => ({ c, d: distance(word.toLowerCase(), c) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= (best.c.length >= 5 ? 2 : 1) ? best.c : undefined;
}

/** The file the command line names (-f, --firmware or the positional), refusing two. */
export function checkRootArgs(
  a: RootArgs,
  file: { f?: string; firmware?: string },
): string | undefined {
  const g = (k: string) => a.given.has(k);
  const actions = (["query", "status", "requestBootloader"] as const).filter(g);
  if (actions.length > 1)
    throw new UsageError(
      `${actions.map((k) => FLAG[k]).join(" and ")} are different actions`,
      "give one of -q, -s, -r (or none, to flash)",
    );
  if (a.args.length > 1)
    throw new UsageError(
      `extra argument${a.args.length > 2 ? "s" : ""}: ${a.args.slice(1).join(" ")}`,
      "give one firmware file",
    );
  const positional = a.args[0];
  const named = [file.f, file.firmware].filter((x): x is string => x !== undefined);
  if (named.length + (positional !== undefined ? 1 : 0) > 1)
    throw new UsageError(
      `two firmware files: ${[...named, ...(positional !== undefined ? [positional] : [])].join(" and ")}`,
      "give one, with -f <file> or as the last argument",
    );
  const chosen = named[0] ?? positional;
  const action = actions[0];
  if (
    positional !== undefined &&
    !action &&
    !g("uuid") &&
    !g("device") &&
    !g("mcu") &&
    !g("manifest")
  ) {
    const cmd = misspeltCommand(positional, a.commands, a.cwd);
    if (cmd)
      throw new UsageError(
        `unknown command '${positional}' (did you mean ${cmd}?)`,
        `canflash ${cmd} --help`,
      );
  }
  if (!action) return chosen;
  const flag = FLAG[action]!;
  if (chosen !== undefined) {
    if (action === "query" && !/[./]/.test(chosen))
      throw new UsageError(
        `-q takes no argument: "${chosen}" looks like an interface name`,
        `canflash -i ${chosen} -q   (or canbus_query.py's way: canflash query ${chosen})`,
      );
    throw new UsageError(
      `${flag} flashes nothing: "${chosen}" would be ignored`,
      `drop it, or flash it: canflash -u <uuid> ${chosen}`,
    );
  }
  const notHere: readonly string[] =
    action === "query"
      ? [
          ...FLASH_ONLY,
          "uuid",
          "device",
          "baud",
          "serialMode",
          "resetSequence",
          "target",
          "stopKlipper",
          ...SWD_REACH,
        ]
      : [...FLASH_ONLY, "queryMs", "identify", "katapultInfo"];
  const stray = notHere.filter(g);
  if (stray.length)
    throw new UsageError(
      `${flag} does not take ${stray.map((k) => FLAG[k]).join(", ")}`,
      action === "query"
        ? "canflash -q lists the nodes; flash with canflash -u <uuid> <file>"
        : `drop ${stray.map((k) => FLAG[k]).join(", ")}`,
    );
  return undefined;
}
