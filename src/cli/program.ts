// The canflash command line. flashtool's short flags keep working at the top
// level (-q, -u, -f, -s, -r, -i, -d, -b, -v); the same actions exist as
// subcommands with their own --help and examples.

import {
  createWriteStream,
  existsSync,
  openSync,
  readFileSync,
  writeFileSync,
  type WriteStream,
} from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { CanflashError } from "../util/errors.js";
import {
  DEFAULT_FIRMWARE,
  expandPath,
  parseLineSequence,
  parseSerialMode,
} from "../flasher/inputs.js";
import type { BoardCommandOptions } from "./commands/board.js";
import type { CommandContext } from "./commands/context.js";
import type { BoardSpec } from "./commands/flash.js";
import type { QueryCommandOptions } from "./commands/query.js";
import { ExitCode, type ExitCodeValue } from "./exit-codes.js";
import { errorCode, explain } from "./hints/index.js";
import type { CliIo } from "./io.js";
import { checkRootArgs } from "./argv-checks.js";
import { JsonReporter, TextReporter, type Reporter } from "./output.js";
import { UsageError } from "./usage-error.js";
import {
  anySwdFlag,
  isOpenOcdDevice,
  openocdFlags,
  swdLinkOf,
  type SwdFlags,
} from "./swd-options.js";
import type { Target } from "../flasher/targets.js";

// Each command's module (and the library behind it) is imported when the command runs:
// `canflash --help` reads a handful of files, not the whole library.
const load = {
  agent: () => import("./commands/agent.js"),
  outdated: () => import("./commands/outdated.js"),
  board: () => import("./commands/board.js"),
  doctor: () => import("./commands/doctor.js"),
  flash: () => import("./commands/flash.js"),
  query: () => import("./commands/query.js"),
  sim: () => import("./commands/sim.js"),
  targets: () => import("./commands/targets.js"),
  manifest: () => import("./manifest.js"),
};

const resolveTarget = async (query: string | undefined) =>
  (await load.targets()).resolveTarget(query);

/** --target names a row flashed by a file copy (a USB drive or an SD card): no -u/-d needed. */
const driveTarget = async (query: unknown): Promise<boolean> => {
  if (typeof query !== "string") return false;
  const t = await resolveTarget(query);
  return !!t && (await import("../flasher/requests.js")).isDriveTarget(t);
};

/** Set by the bundler (scripts/bundle.mjs) so a start does not read package.json; tsc's output reads it. */
declare const __CANFLASH_VERSION__: string | undefined;

export const VERSION: string =
  typeof __CANFLASH_VERSION__ === "string"
    ? __CANFLASH_VERSION__
    : (
        JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
          version: string;
        }
      ).version;

interface Flags {
  interface?: string;
  uuid: string[];
  verbose?: boolean;
  quiet?: boolean;
  json?: boolean;
  [k: string]: unknown;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const mcuNamesOf = (f: Flags): string[] => (f.mcu as string[] | undefined) ?? [];

/** Options every command takes. */
function common(cmd: Command, root = false): Command {
  return cmd
    .option(
      "-i, --interface <name>",
      'CAN interface: can0, vcan0, "sim" (built-in demo bus) or virtual:<name>',
      root ? "can0" : undefined,
    )
    .option("-v, --verbose", "debug logging and stack traces on stderr")
    .option("--quiet", "only result lines and errors")
    .option("--json", "NDJSON events and a final result object on stdout (see README)")
    .option(
      "--trace-file <file>",
      "write every CAN frame / serial byte with timestamps to <file> (for bug reports)",
    );
}

/** Options of flashing. */
function flashing(cmd: Command): Command {
  return cmd
    .option("--manifest <file>", "flash the boards listed in a JSON or YAML manifest")
    .option("--jobs <n>", "boards flashed at once per interface (default: all)")
    .option("--keep-going", "after a failure, still flash the remaining boards")
    .option("--dry-run", "check everything and plan the blocks, but write nothing")
    .option(
      "--skip-current",
      "leave CAN boards alone that already run the image's Klipper build (same version and config)",
    )
    .option(
      "--mcu <name>",
      "a board by its printer.cfg name ([mcu EBBCan] → EBBCan; repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--config <file>",
      "printer.cfg for --mcu names and -q (default: ~/printer_data/config/printer.cfg)",
    )
    .option(
      "--stop-klipper",
      "stop a running Klipper that holds a board to flash, and start it again afterwards",
    )
    .option(
      "--force",
      "flash even if the image's CAN bitrate or transport differs from the link (never a wrong MCU)",
    )
    .option(
      "--openocd-config <file>",
      "SWD: start openocd with this config (any adapter and target)",
    )
    .option(
      "--swd <pins>",
      "SWD on GPIO: swclk=25,swdio=24,srst=18[,chip=0] (canflash writes the config)",
    )
    .option("--swd-driver <driver>", "SWD on GPIO: bcm2835gpio (Pi 1-4, default) or linuxgpiod")
    .option("--swd-speed <kHz>", "SWD on GPIO: adapter speed (default 40, the seed's)")
    .option(
      "--connect-under-reset",
      "SWD on GPIO: hold SRST while connecting (as holding the reset button)",
    )
    .option("--swd-chip <mcu>", "SWD: the chip (a Klipper MCU name) when the row is for any chip")
    .option("--address <addr>", "SWD: where a raw .bin goes (default: the chip's flash start)")
    .option(
      "--openocd-bin <path>",
      "SWD: the openocd to run (default: $CANFLASH_OPENOCD, else openocd)",
    )
    .option(
      "--backup <file>",
      "SWD: read the whole flash to this file first (default: ./<target>-backup-<time>.bin)",
    )
    .option("--no-backup", "SWD: no backup before erasing")
    .option("--no-chip-erase", "SWD: erase only the sectors written, not the whole chip")
    .option(
      "--bootloader-size <bytes>",
      "SWD: protect this many bytes (BOOTPROT) after writing a SAMD bootloader",
    )
    .addOption(
      new Option("--work-area-size <bytes>", "SWD: WORKAREASIZE of the written config").hideHelp(),
    );
}

const EXAMPLES = `
Examples:
  canflash -q                                   list CAN nodes waiting for a node id (Katapult and Klipper)
  canflash -u aabbccddeeff ~/klipper/out/klipper.bin
                                                flash one node over CAN (can0) and verify it
  canflash -u aabbccddeeff -u 112233445566 klipper.bin
                                                flash several nodes at once
  canflash --manifest boards.yaml               flash the boards of a manifest
  canflash -d /dev/serial/by-id/usb-katapult_… klipper.bin
                                                flash over USB or UART (-b 250000)
  canflash --target atmega2560 -d /dev/ttyACM0 out/klipper.elf.hex
                                                an AVR through its Arduino bootloader (STK500)
  canflash --target stm32f4-rom-dfu out/klipper.bin
                                                an STM32 in its ROM DFU bootloader (0483:df11)
  canflash -i sim -q                            try it without hardware: the built-in demo bus
  canflash -s -u aabbccddeeff                   print what the node's bootloader reports
  canflash -r -u aabbccddeeff                   put the node into its bootloader and stop
  canflash targets                              the chips and bootloaders canflash knows
  canflash sim -i vcan0 --katapult 8266c4636429 simulated boards on vcan0 until Ctrl-C
  canflash outdated                             which boards need reflashing (asks Moonraker)
  canflash agent                                serve Moonraker: front ends and macros flash boards
  canflash ensure --manifest boards.yaml --json flash only what differs (Ansible: examples/ansible)

Exit codes: 0 ok, 1 failure, 2 usage/bad input, 3 no node answered, 4 verify mismatch,
            5 interface unusable, 6 image refused by a pre-flight check,
            7 Klipper holds a board (use --stop-klipper) or is printing,
            8 another canflash is flashing the board, 10 boards to flash (outdated),
            130 interrupted.`;

function parseBaud(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`-b ${text}: the baud rate must be a positive integer`, "e.g. -b 250000");
  return n;
}

/** --trace-file is written in batches of this many bytes, or this long after a line at the latest. */
const TRACE_FLUSH_BYTES = 64 * 1024;
const TRACE_FLUSH_MS = 100;

/** --query-ms in --help (the numbers are can-admin's QUERY_QUIET_MS, QUERY_FIRST_ANSWER_MS, QUERY_WINDOW_MS; test/cli/query-cli checks them). */
export const QUERY_MS_HELP =
  "listen a fixed <ms> for answers (default: until the bus is quiet for 50 ms after the last answer, at least 150 ms, at most 1000 ms)";

/** Nodes answer a query within milliseconds; below this a query finds nothing on a busy bus. */
export const QUERY_MS_MIN = 50;

function parseQueryMs(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < QUERY_MS_MIN)
    throw new UsageError(
      `--query-ms ${text}: a query listens at least ${QUERY_MS_MIN} ms`,
      "e.g. --query-ms 2000, or leave it out (the query ends once the bus is quiet)",
    );
  return n;
}

function parseJobs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--jobs ${text}: must be a positive integer`);
  return n;
}

/** The value of an option in argv ("-i sim", "--interface=sim"), for error hints. */
function argValue(argv: readonly string[], names: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (names.includes(a)) return argv[i + 1];
    for (const n of names) if (a.startsWith(`${n}=`)) return a.slice(n.length + 1);
  }
  return undefined;
}

/** Runs canflash with `argv` (without node and script). Returns the exit code. */
export async function run(
  argv: readonly string[],
  io: CliIo,
  signal: AbortSignal = new AbortController().signal,
): Promise<ExitCodeValue> {
  const json = argv.includes("--json");
  let verbose = argv.includes("-v") || argv.includes("--verbose");
  let out: Reporter = json ? new JsonReporter(io, VERSION) : new TextReporter(io, { verbose });
  let ctx: CommandContext | undefined;
  let command = "canflash";
  let started = false;

  const act =
    (
      name: string | ((f: Flags) => string),
      fn: (f: Flags, c: CommandContext) => Promise<ExitCodeValue>,
    ) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      // Subcommand options win; options typed before the subcommand apply too.
      const flags: Flags = { ...cmd.opts<Flags>() };
      const root = cmd.parent;
      if (root) {
        for (const key of ["interface", "verbose", "quiet", "json"] as const) {
          if (flags[key] === undefined && root.getOptionValueSource(key) === "cli") {
            (flags as Record<string, unknown>)[key] = root.opts<Flags>()[key];
          }
        }
      }
      flags.interface ??= "can0";
      if (typeof flags.interface === "string" && flags.interface.trim() === "")
        throw new UsageError(
          "-i needs an interface name",
          "e.g. -i can0, or -i sim for the demo bus",
        );
      flags.uuid ??= [];
      flags._args = cmd.args;
      flags._given = new Set(
        cmd.options
          .map((o) => o.attributeName())
          .filter((k) => cmd.getOptionValueSource(k) === "cli"),
      );
      verbose = !!flags.verbose;
      out = flags.json
        ? new JsonReporter(io, VERSION)
        : new TextReporter(io, { quiet: !!flags.quiet, verbose });
      if (verbose) {
        const [pinoModule, { setRootLogger }] = await Promise.all([
          import("pino"),
          import("../util/log.js"),
        ]);
        // pino is CommonJS: its function is the module's default export once bundled.
        const pino = pinoModule.default;
        setRootLogger(pino({ level: "debug" }, pino.destination(2)));
      }
      command = typeof name === "string" ? name : name(flags);
      out.start(command);
      started = true;
      ctx = {
        io,
        out,
        signal,
        verbose,
        ifaceGiven:
          cmd.getOptionValueSource("interface") === "cli" ||
          root?.getOptionValueSource("interface") === "cli",
      };
      if (typeof flags.traceFile === "string") {
        const path = expandPath(flags.traceFile, io.cwd);
        let fd: number;
        try {
          fd = openSync(path, "w");
        } catch (e) {
          throw new UsageError(
            `cannot write the trace file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
            "give a file in a folder that exists and you can write to, e.g. --trace-file /tmp/canflash.trace",
          );
        }
        const stream = createWriteStream(path, { fd });
        traceStream = stream;
        // In batches: a flash traces ~20,000 frames, and a write per frame is a system call each.
        let pending = "";
        let timer: NodeJS.Timeout | undefined;
        traceFlush = () => {
          if (timer) clearTimeout(timer);
          timer = undefined;
          if (pending) stream.write(pending);
          pending = "";
        };
        const flush = traceFlush;
        ctx.trace = (line) => {
          pending += `${line}\n`;
          if (pending.length >= TRACE_FLUSH_BYTES) flush();
          else timer ??= setTimeout(flush, TRACE_FLUSH_MS);
        };
      }
      const code = await fn(flags, ctx);
      out.finish(code, ctx.rows);
      return code;
    };
  let exitCode: ExitCodeValue = ExitCode.OK;
  const wrap =
    (
      name: string | ((f: Flags) => string),
      fn: (f: Flags, c: CommandContext) => Promise<ExitCodeValue>,
    ) =>
    async (...args: unknown[]) => {
      exitCode = await act(name, fn)(...args);
    };
  const queryOpts = (f: Flags): QueryCommandOptions => ({
    iface: f.interface!,
    ...(f.queryMs !== undefined ? { queryMs: parseQueryMs(f.queryMs as string) } : {}),
    identify: f.identify !== false,
    katapultInfo: !!f.katapultInfo,
    ...(typeof f.config === "string" ? { config: f.config } : {}),
  });
  const boardOpts = async (f: Flags): Promise<BoardCommandOptions> => {
    const target = f.target ? (await resolveTarget(f.target as string))! : undefined;
    if (target?.protocol === "swd" || anySwdFlag(f as SwdFlags)) {
      const row = target ?? (await resolveTarget("openocd-swd"))!;
      if (row.protocol !== "swd")
        throw new UsageError(
          `the SWD options are for SWD rows, and ${row.id} is not one`,
          "canflash --target samc21-swd …",
        );
      const link = swdLinkOf({ ...(f as SwdFlags), backup: false }, io.env); // -s reads, backs up nothing
      return { iface: f.interface!, uuids: [], target: row, openocd: link };
    }
    return plainBoardOpts(f);
  };
  /** -r: an SWD chip has no bootloader to ask into (it is flashed as it is). */
  const requestOpts = async (f: Flags): Promise<BoardCommandOptions> => {
    const o = await boardOpts(f);
    if (o.openocd)
      throw new UsageError(
        `-r asks a bootloader to stay, and ${o.target!.id} has none: SWD flashes the chip as it is`,
        `flash it: canflash --target ${o.target!.id} ${openocdFlags(o.openocd)} <file> (or read it: -s)`,
      );
    return o;
  };
  const plainBoardOpts = async (f: Flags): Promise<BoardCommandOptions> => ({
    iface: f.interface!,
    uuids: f.uuid,
    ...(typeof f.device === "string" ? { device: f.device } : {}),
    ...(f.baud !== undefined ? { baud: parseBaud(f.baud as string) } : {}),
    ...(typeof f.serialMode === "string" ? { serialMode: parseSerialMode(f.serialMode) } : {}),
    ...(typeof f.resetSequence === "string"
      ? { lineSequence: parseLineSequence(f.resetSequence) }
      : {}),
    ...(f.target ? { target: (await resolveTarget(f.target as string))! } : {}),
    ...(typeof f.config === "string" ? { config: f.config } : {}),
    stopKlipper: !!f.stopKlipper,
  });

  /** An SWD row (or SWD flags): the one board, reached through OpenOCD. */
  const swdEntry = async (
    f: Flags,
    target: Target | undefined,
    file: string | undefined,
  ): Promise<BoardSpec | undefined> => {
    const flags = f as SwdFlags;
    const any = anySwdFlag(flags);
    if (target && target.protocol !== "swd") {
      if (any)
        throw new UsageError(
          `the SWD options are for SWD rows, and ${target.id} is flashed over ${target.transports.join("/")}`,
          "canflash --target samc21-swd … or --target openocd-swd …",
        );
      return undefined;
    }
    if (!target && !any) return undefined;
    if (f.uuid.length > 0 || f.manifest || mcuNamesOf(f).length > 0)
      throw new UsageError(
        "an SWD target is one chip on the debug wires: give no -u, --mcu or --manifest",
      );
    const row = target ?? (await resolveTarget("openocd-swd"))!;
    if (f.backup === undefined || f.backup === true)
      f.backup = `${row.id}-backup-${new Date().toISOString().replace(/[:.]/g, "").slice(0, 15)}.bin`;
    const link = swdLinkOf(flags, io.env);
    if (link.backup && existsSync(expandPath(link.backup, io.cwd, io.host?.home)))
      throw new UsageError(
        `the backup file ${link.backup} exists: canflash does not write over a backup`,
        "give another name with --backup <file>, or --no-backup",
      );
    const at = (p: string | undefined) =>
      p === undefined ? undefined : expandPath(p, io.cwd, io.host?.home);
    return {
      label: row.id,
      iface: f.interface!,
      file: file ?? DEFAULT_FIRMWARE,
      target: row,
      openocd: {
        ...link,
        ...(link.config ? { config: at(link.config)! } : {}),
        ...(link.backup ? { backup: at(link.backup)! } : {}),
        ...(link.bin?.includes("/") ? { bin: at(link.bin)! } : {}),
      },
    };
  };

  /** Flash: -u (repeatable) with one file, -d with one file, or a manifest. */
  const flash = async (
    f: Flags,
    c: CommandContext,
    file: string | undefined,
    ensure = false,
  ): Promise<ExitCodeValue> => {
    const target = await resolveTarget(f.target as string | undefined);
    // A USB bootloader row alone (no -d, -u, --mcu, manifest): its device is found by the row's USB ids.
    if (target && !f.device && !f.manifest && f.uuid.length === 0 && mcuNamesOf(f).length === 0)
      if ((await import("../flasher/usb-devices.js")).isUsbTarget(target))
        f.device = target.usbIds.length === 1 ? `usb:${target.usbIds[0]}` : "usb:";
    let entries: BoardSpec[] = [];
    let jobs = parseJobs(f.jobs as string | undefined);
    let config = typeof f.config === "string" ? f.config : undefined;
    const mcuNames = (f.mcu as string[] | undefined) ?? [];
    const swd = await swdEntry(f, target, file);
    if (swd) entries = [swd];
    else if (f.manifest) {
      if (f.uuid.length > 0 || f.device || mcuNames.length > 0)
        throw new UsageError("give boards either with --manifest or with -u/-d/--mcu, not both");
      const m = await (await load.manifest()).loadManifest(f.manifest as string, io.cwd);
      entries = m.entries;
      jobs ??= m.jobs;
      config ??= m.config;
    } else if (f.device) {
      if (f.uuid.length > 0 || mcuNames.length > 0)
        throw new UsageError("give either -d <tty> or -u <uuid>/--mcu <name>, not both");
      entries = [
        {
          label: f.device as string,
          device: f.device as string,
          ...(f.baud !== undefined ? { baud: parseBaud(f.baud as string) } : {}),
          ...(typeof f.serialMode === "string"
            ? { serialMode: parseSerialMode(f.serialMode) }
            : {}),
          ...(typeof f.resetSequence === "string"
            ? { lineSequence: parseLineSequence(f.resetSequence) }
            : {}),
          iface: f.interface!,
          file: file ?? DEFAULT_FIRMWARE,
          ...(target ? { target } : {}),
        },
      ];
    } else {
      for (const [flag, given] of [
        ["-b", f.baud],
        ["--serial-mode", f.serialMode],
        ["--reset-sequence", f.resetSequence],
      ] as const)
        if (given !== undefined)
          throw new UsageError(
            `${flag} is for boards on a tty (-d); CAN boards (-u, --mcu) take no line settings`,
            `drop ${flag}, or give -d <tty>`,
          );
      const explicitIface = c.ifaceGiven === true;
      entries = [
        ...f.uuid.map((u) => ({ label: u, uuid: u })),
        ...mcuNames.map((name) => ({ label: name, mcu: name })),
      ].map((b) => ({
        ...b,
        iface: f.interface!,
        ...(explicitIface ? { explicitIface } : {}),
        file: file ?? DEFAULT_FIRMWARE,
        ...(target ? { target } : {}),
      }));
      // A drive row (a UF2 or MSC bootloader) is found by its USB id: the target alone names the board.
      if (entries.length === 0 && target && (await driveTarget(target.id)))
        entries = [
          { label: target.id, iface: f.interface!, file: file ?? DEFAULT_FIRMWARE, target },
        ];
    }
    if (entries.length === 0)
      throw new UsageError(
        "no boards to flash",
        "give -u <uuid> (repeatable), -d <tty> or --manifest <file>",
      );
    return (await load.flash()).flashCommand(
      entries,
      {
        ...(jobs !== undefined ? { jobs } : {}),
        keepGoing: !!f.keepGoing,
        dryRun: !!f.dryRun,
        force: !!f.force,
        stopKlipper: !!f.stopKlipper,
        // ensure: the data dictionary decides, or with --readback the board's flash read back.
        skipCurrent: (ensure && !f.readback) || !!f.skipCurrent,
        ...(config !== undefined ? { config } : {}),
        ...(ensure ? { ensure } : {}),
        ...(ensure && f.readback ? { compareFirst: true } : {}),
      },
      c,
    );
  };

  const program = flashing(common(new Command("canflash"), true))
    .description(
      "Find and flash 3D-printer micro-controllers: Katapult and Klipper over CAN, USB and UART.",
    )
    .usage("[options] [file]")
    .version(VERSION, "-V, --version")
    .argument("[file]", "firmware to flash (default with -u/-d: ~/klipper/out/klipper.bin)")
    .option("-q, --query", "list CAN nodes that wait for a node id")
    .option(
      "-u, --uuid <uuid>",
      "the CAN node to act on (repeat to flash several)",
      collect,
      [] as string[],
    )
    .option("-f, --file <path>", "firmware file (same as the [file] argument)")
    .addOption(new Option("--firmware <path>", "flashtool's long name for -f").hideHelp())
    .option("-s, --status", "connect to the node's bootloader and print its status")
    .option("-r, --request-bootloader", "put the node into its bootloader and stop")
    .option(
      "-d, --device <tty>",
      "serial/USB device of a Katapult or Klipper board (e.g. /dev/serial/by-id/usb-katapult_…), or a USB bootloader: usb:0483:df11, usb:<serial>, usb:1-1.4",
    )
    .option(
      "-b, --baud <rate>",
      "UART baud rate (default: the target's; Katapult 250000; USB ignores it)",
    )
    .option(
      "--serial-mode <mode>",
      "UART line settings as stm32flash -m: 8e1, 8n1, … (default: the bootloader's)",
    )
    .option(
      "--reset-sequence <seq>",
      "DTR/RTS sequence into the STM32 ROM and out, as stm32flash -i: entry[:exit], e.g. '-dtr&rts,dtr,-rts:-dtr&-rts,dtr'",
    )
    .option(
      "--target <id>",
      "the board/chip from `canflash targets` (sets baud and application area)",
    )
    .option("--query-ms <ms>", `-q: ${QUERY_MS_HELP}`)
    .option(
      "--no-identify",
      "-q: the bare query (no Klipper identify, no look for nodes holding an id)",
    )
    .option("--katapult-info", "-q: also connect to each Katapult node for its version and MCU")
    .addHelpText("after", EXAMPLES)
    .showHelpAfterError("(run canflash --help for usage)")
    .enablePositionalOptions()
    .action(
      wrap(
        (f) =>
          f.query
            ? "query"
            : f.requestBootloader
              ? "request-bootloader"
              : f.status
                ? "status"
                : "flash",
        async (f, c) => {
          const file = checkRootArgs(
            {
              given: f._given as Set<string>,
              args: f._args as string[],
              commands: program.commands.map((x) => x.name()),
              cwd: io.cwd,
            },
            {
              ...(typeof f.file === "string" ? { f: f.file } : {}),
              ...(typeof f.firmware === "string" ? { firmware: f.firmware } : {}),
            },
          );
          if (f.device && !isOpenOcdDevice(f.device as string)) {
            if (f.requestBootloader)
              return (await load.board()).requestCommand(await requestOpts(f), c);
            if (f.status) return (await load.board()).statusCommand(await boardOpts(f), c);
            return flash(f, c, file);
          }
          if (f.query) return (await load.query()).queryCommand(queryOpts(f), c);
          if (f.requestBootloader)
            return (await load.board()).requestCommand(await requestOpts(f), c);
          if (f.status) return (await load.board()).statusCommand(await boardOpts(f), c);
          if (
            f.uuid.length > 0 ||
            f.manifest ||
            (f.mcu as string[]).length > 0 ||
            f.target ||
            anySwdFlag(f as SwdFlags)
          )
            return flash(f, c, file);
          if (await driveTarget(f.target)) return flash(f, c, file);
          if (file)
            throw new UsageError(
              `which node should get ${file}?`,
              `give its UUID: canflash -u <uuid> ${file} (list them: canflash -i ${f.interface} -q)`,
            );
          throw new UsageError(
            "nothing to do",
            "canflash -q to list nodes, canflash -u <uuid> <file> to flash, canflash --help for more",
          );
        },
      ),
    );

  // Before the subcommands are added, so they inherit both.
  program.exitOverride();
  program.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    // --json: stdout is NDJSON and stderr gets our one line; commander's own error text would double it
    writeErr: (s) => (json ? undefined : io.stderr.write(s)),
  });
  program.helpCommand("help [command]", "show help for a command");

  common(program.command("query"))
    .description("list CAN nodes that wait for a node id (Katapult and Klipper)")
    .argument("[interface]", "the CAN interface, as canbus_query.py takes it (same as -i)")
    .option("--query-ms <ms>", QUERY_MS_HELP)
    .option(
      "--no-identify",
      "the bare query (no Klipper identify, no look for nodes holding an id)",
    )
    .option("--katapult-info", "also connect to each Katapult node for its version and MCU")
    .option(
      "--config <file>",
      "printer.cfg to compare with (default: ~/printer_data/config/printer.cfg)",
    )
    .addHelpText("after", "\nExamples:\n  canflash query can0\n  canflash query -i sim --json")
    .action(
      wrap("query", async (f, c) => {
        const [positional] = f._args as string[];
        if (positional !== undefined) {
          if ((f._given as Set<string>).has("interface") && positional !== f.interface)
            throw new UsageError(
              `two interfaces: -i ${f.interface} and ${positional}`,
              `give one: canflash query ${positional}`,
            );
          f.interface = positional;
          c.ifaceGiven = true;
        }
        return (await load.query()).queryCommand(queryOpts(f), c);
      }),
    );

  flashing(common(program.command("flash")))
    .description("flash boards (CAN through Katapult, or USB/UART) and verify them by reading back")
    .argument("[file]", "firmware file", DEFAULT_FIRMWARE)
    .option("-u, --uuid <uuid>", "a CAN node to flash (repeatable)", collect, [] as string[])
    .option("-d, --device <tty>", "a serial/USB board to flash")
    .option("-b, --baud <rate>", "UART baud rate (default: the target's)")
    .option("--serial-mode <mode>", "UART line settings: 8e1, 8n1, … (default: the bootloader's)")
    .option(
      "--reset-sequence <seq>",
      "DTR/RTS sequence into the STM32 ROM and out (stm32flash -i): entry[:exit]",
    )
    .option("--target <id>", "the board/chip from `canflash targets`")
    .addHelpText(
      "after",
      `
Examples:
  canflash flash -u aabbccddeeff ~/klipper/out/klipper.bin
  canflash flash -u aabbccddeeff -u 112233445566 --jobs 2 klipper.bin
  canflash flash --manifest boards.yaml --keep-going
  canflash flash --mcu EBBCan --mcu T0 klipper.bin   (boards by printer.cfg name)
  canflash flash -i sim -u 8266c4636429 -u ef00c3c43f24 klipper.bin

Manifest (JSON or YAML):
  interface: can0
  firmware: ~/klipper/out/klipper.bin
  boards:
    - { mcu: EBBCan }                    # [mcu EBBCan] in printer.cfg
    - { name: T0, uuid: aabbccddeeff }
    - { name: toolhead1, uuid: 112233445566, firmware: ~/klipper/out/t1.bin, interface: can1 }
    - { name: mainboard, device: /dev/serial/by-id/usb-katapult_stm32f446xx_123-if00 }`,
    )
    .action(wrap("flash", (f, c) => flash(f, c, (f._args as string[])[0] ?? DEFAULT_FIRMWARE)));

  flashing(common(program.command("ensure")))
    .description(
      "make boards run an image, idempotently: flash only those not on its build (for Ansible and scripts)",
    )
    .argument("[file]", "firmware file", DEFAULT_FIRMWARE)
    .option("-u, --uuid <uuid>", "a CAN node (repeatable)", collect, [] as string[])
    .option("-d, --device <tty>", "a serial/USB board")
    .option("-b, --baud <rate>", "UART baud rate (default: the target's)")
    .option("--serial-mode <mode>", "UART line settings: 8e1, 8n1, … (default: the bootloader's)")
    .option("--target <id>", "the board/chip from `canflash targets`")
    .option(
      "--readback",
      "compare each board's flash by reading it back (in its bootloader) instead of trusting the data dictionary",
    )
    .addHelpText(
      "after",
      `
A CAN board whose running Klipper reports the image's data dictionary (same version,
toolchain, build config) is left alone; the others are flashed and verified. With
--readback every board is taken into its bootloader and its flash read back: an
identical one is started again unchanged, nothing written; serial boards need it to be
told apart at all. --json's
result says changed: true|false per board and overall; the exit code is 0 whether or
not anything changed, and a failure's code otherwise (examples/ansible/).

Examples:
  canflash ensure --manifest boards.yaml --json
  canflash ensure --stop-klipper --mcu EBBCan ~/klipper/out/klipper.bin`,
    )
    .action(
      wrap("ensure", (f, c) => flash(f, c, (f._args as string[])[0] ?? DEFAULT_FIRMWARE, true)),
    );

  common(program.command("status"))
    .option("--stop-klipper", "stop a running Klipper that holds the node (it stays stopped)")
    .option("--config <file>", "printer.cfg (which nodes Klipper holds)")
    .description(
      "connect to a node's bootloader and print what it reports (the node stays in its bootloader)",
    )
    .requiredOption("-u, --uuid <uuid>", "the node", collect, [] as string[])
    .addHelpText("after", "\nExample:\n  canflash status -u aabbccddeeff")
    .action(
      wrap("status", async (f, c) => (await load.board()).statusCommand(await boardOpts(f), c)),
    );

  common(program.command("request-bootloader"))
    .option("--stop-klipper", "stop a running Klipper that holds the node (it stays stopped)")
    .option("--config <file>", "printer.cfg (which nodes Klipper holds)")
    .description("put a node into its bootloader and confirm it answers as Katapult")
    .requiredOption("-u, --uuid <uuid>", "the node", collect, [] as string[])
    .addHelpText("after", "\nExample:\n  canflash request-bootloader -u aabbccddeeff")
    .action(
      wrap("request-bootloader", async (f, c) =>
        (await load.board()).requestCommand(await requestOpts(f), c),
      ),
    );

  common(program.command("targets"))
    .description("list the chips and bootloaders canflash knows (and which this build flashes)")
    .argument("[id]", "show one target in full (id or chip)")
    .addHelpText("after", "\nExamples:\n  canflash targets\n  canflash targets atmega2560")
    .action(
      wrap("targets", async (f, c) =>
        (await load.targets()).targetsCommand(
          { json: !!f.json, ...((f._args as string[])[0] ? { id: (f._args as string[])[0] } : {}) },
          c,
        ),
      ),
    );

  common(program.command("agent"))
    .description(
      "serve Moonraker as an agent: front ends and G-code macros ask for status, a plan, or a flash",
    )
    .option(
      "--socket <path>",
      "Moonraker's Unix socket (default: ~/printer_data/comms/moonraker.sock)",
    )
    .option("--name <name>", "the agent's name in Moonraker (one agent per name)", "canflash")
    .option(
      "--agent-config <file>",
      "the agent's config: allow_flash, firmware, boards (default: ~/printer_data/config/canflash.yaml)",
    )
    .addOption(new Option("--reconnect-min-ms <ms>").hideHelp())
    .addOption(new Option("--reconnect-max-ms <ms>").hideHelp())
    .addHelpText(
      "after",
      `
Runs until stopped (systemd: canflash-agent.service). Flashing is off until the
agent's config says allow_flash: true. Methods for server.extensions.request:
status, plan {mcus}, flash {mcus} (answers a job id; progress as agent events),
cancel {job}, job {job}. G-code: {action_call_remote_method("canflash_flash", mcu="EBBCan")}.

Examples:
  canflash agent
  canflash agent --socket ~/printer_data/comms/moonraker.sock --agent-config ~/printer_data/config/canflash.yaml`,
    )
    .action(
      wrap("agent", async (f, c) => {
        const ms = (v: string | undefined, what: string): number | undefined => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (!Number.isInteger(n) || n <= 0)
            throw new UsageError(`${what} ${v}: must be a positive integer`);
          return n;
        };
        const min = ms(f.reconnectMinMs as string | undefined, "--reconnect-min-ms");
        const max = ms(f.reconnectMaxMs as string | undefined, "--reconnect-max-ms");
        return (await load.agent()).agentCommand(
          {
            ...(typeof f.socket === "string" ? { socket: f.socket } : {}),
            ...(typeof f.name === "string" ? { name: f.name } : {}),
            ...(typeof f.agentConfig === "string" ? { agentConfig: f.agentConfig } : {}),
            ...(c.ifaceGiven ? { iface: f.interface! } : {}),
            version: VERSION,
            ...(min !== undefined ? { reconnectMinMs: min } : {}),
            ...(max !== undefined ? { reconnectMaxMs: max } : {}),
          },
          c,
        );
      }),
    );

  common(program.command("outdated"))
    .description(
      "which boards need reflashing after a Klipper update (Klipper's warnings and versions, via Moonraker or the bus)",
    )
    .option(
      "--socket <path>",
      "Moonraker's Unix socket (default: ~/printer_data/comms/moonraker.sock)",
    )
    .option(
      "--moonraker-url <url>",
      "Moonraker's HTTP API instead (default: http://127.0.0.1:7125)",
    )
    .option("--config <file>", "-i: printer.cfg, for the boards' names")
    .option("--klipper-dir <dir>", "-i: the host's Klipper checkout (default: ~/klipper)")
    .option(
      "-f, --firmware <file>",
      "-i: compare the boards with this fresh build's data dictionary",
    )
    .addHelpText(
      "after",
      `
Without -i it asks Moonraker (the socket when it exists, else the HTTP API);
with -i it asks the boards on that CAN interface (Klipper stopped).
Exit codes: 0 nothing to flash, 10 boards to flash.

Examples:
  canflash outdated
  canflash outdated --json
  canflash outdated -i can0 --config ~/printer_data/config/printer.cfg -f ~/klipper/out/klipper.bin`,
    )
    .action(
      wrap("outdated", async (f, c) => {
        const given = f._given as Set<string>;
        if (c.ifaceGiven && (given.has("socket") || given.has("moonrakerUrl")))
          throw new UsageError(
            "give either -i (ask the bus) or --socket/--moonraker-url (ask Moonraker), not both",
          );
        if (!c.ifaceGiven)
          for (const [k, flag] of [
            ["config", "--config"],
            ["klipperDir", "--klipper-dir"],
            ["firmware", "-f"],
          ] as const)
            if (given.has(k))
              throw new UsageError(
                `${flag} is for asking the bus (-i); Moonraker reports its own`,
                `add -i can0, or drop ${flag}`,
              );
        if (given.has("socket") && given.has("moonrakerUrl"))
          throw new UsageError("give either --socket or --moonraker-url, not both");
        const home = io.host?.home;
        const socketPath = expandPath(
          typeof f.socket === "string" ? f.socket : "~/printer_data/comms/moonraker.sock",
          io.cwd,
          home,
        );
        const url = typeof f.moonrakerUrl === "string" ? f.moonrakerUrl : "http://127.0.0.1:7125";
        return (await load.outdated()).outdatedCommand(
          {
            source: c.ifaceGiven
              ? {
                  kind: "bus",
                  iface: f.interface!,
                  ...(typeof f.config === "string" ? { config: f.config } : {}),
                  ...(typeof f.klipperDir === "string" ? { klipperDir: f.klipperDir } : {}),
                }
              : given.has("socket")
                ? { kind: "socket", socketPath }
                : given.has("moonrakerUrl")
                  ? { kind: "http", url }
                  : { kind: "auto", socketPath, url },
            ...(typeof f.firmware === "string" ? { firmware: f.firmware } : {}),
          },
          c,
        );
      }),
    );

  common(program.command("doctor"))
    .description(
      "check CAN interfaces, a running Klipper and serial devices; each finding with its fix",
    )
    .addHelpText("after", "\nExamples:\n  canflash doctor\n  canflash doctor --json")
    .action(wrap("doctor", async (_f, c) => (await load.doctor()).doctorCommand({}, c)));

  program
    .command("demo-image")
    .description(
      "write a Klipper-like image (vector table and data dictionary) to try canflash without a Klipper build",
    )
    .requiredOption("-o, --output <file>", "where to write it")
    .option("--mcu <name>", "Klipper's MCU name", "stm32g0b1xx")
    .option("--transport <kind>", "can, usb-can-bridge, serial or usb", "can")
    .option("--bitrate <bit/s>", "CAN bitrate of the build", "1000000")
    .option("--app-start <address>", "where it is linked (default: flash start + 8 KiB)")
    .option("--size <bytes>", "image size", "28672")
    .addHelpText(
      "after",
      "\nExample:\n  canflash demo-image -o /tmp/klipper.bin && canflash -i sim -u 8266c4636429 /tmp/klipper.bin",
    )
    .action(
      wrap("demo-image", async (f, c) => {
        const num = (v: unknown, what: string): number => {
          const n = Number(v);
          if (!Number.isInteger(n) || n <= 0)
            throw new UsageError(`${what} ${String(v)}: must be a positive integer (0x… allowed)`);
          return n;
        };
        const transport = f.transport as string;
        if (!["can", "usb-can-bridge", "serial", "usb"].includes(transport))
          throw new UsageError(`--transport ${transport}: one of can, usb-can-bridge, serial, usb`);
        const { demoImage } = await import("../flasher/simulate.js");
        const bytes = demoImage({
          mcu: f.mcu as string,
          transport: transport as "can",
          bitrate: num(f.bitrate, "--bitrate"),
          ...(f.appStart !== undefined ? { appStart: num(f.appStart, "--app-start") } : {}),
          size: num(f.size, "--size"),
        });
        const path = expandPath(f.output as string, io.cwd);
        try {
          writeFileSync(path, bytes);
        } catch (e) {
          throw new UsageError(
            `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          );
        }
        c.out.line(
          `${path}: ${bytes.length} bytes, Klipper demo build for ${f.mcu as string} (${transport})`,
        );
        return ExitCode.OK;
      }),
    );

  common(program.command("sim"))
    .description("run simulated boards on a CAN interface until Ctrl-C, one line per event")
    .option("--katapult <uuid>", "a board running Katapult (repeatable)", collect, [] as string[])
    .option(
      "--klipper <uuid>",
      "a board running Klipper with Katapult installed (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--dump-dir <dir>",
      "after COMPLETE write <dir>/<uuid>.bin (app start .. last written block)",
    )
    .option("--mcu <name>", "MCU the boards report", "stm32g0b1xx")
    .option("--blocks", "print every block read and written")
    .addHelpText(
      "after",
      "\nExample:\n  canflash sim -i vcan0 --katapult 8266c4636429 --klipper 625720a262c6 --dump-dir /tmp/dumps",
    )
    .action(
      wrap("sim", async (f, c) =>
        (await load.sim()).simCommand(
          {
            iface: f.interface!,
            katapult: f.katapult as string[],
            klipper: f.klipper as string[],
            ...(f.dumpDir ? { dumpDir: f.dumpDir as string } : {}),
            mcu: f.mcu as string,
            blocks: !!f.blocks,
          },
          c,
        ),
      ),
    );

  let traceStream: WriteStream | undefined;
  let traceFlush = (): void => undefined;
  const closeTrace = () =>
    new Promise<void>((resolve) => {
      traceFlush();
      if (traceStream) traceStream.end(() => resolve());
      else resolve();
    });
  try {
    await program.parseAsync([...argv], { from: "user" });
    await closeTrace();
    return exitCode;
  } catch (e) {
    await closeTrace();
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      )
        return ExitCode.OK;
      if (json) {
        out.start(command);
        out.error(
          {
            exitCode: ExitCode.USAGE,
            message: e.message.replace(/^error: /, ""),
            causes: [],
            next: ["canflash --help"],
          },
          undefined,
          "USAGE",
        );
        out.finish(ExitCode.USAGE);
      }
      return ExitCode.USAGE;
    }
    const iface = ctx?.iface ?? argValue(argv, ["-i", "--interface"]) ?? "can0";
    const explained = explain(e, { iface, ...(ctx?.retry ? { retry: ctx.retry } : {}) });
    const detail =
      e instanceof Error
        ? (e.stack ?? String(e)) +
          (e instanceof CanflashError && e.cause
            ? `\ncause: ${e.cause instanceof Error ? (e.cause.stack ?? e.cause.message) : JSON.stringify(e.cause)}`
            : "")
        : String(e);
    if (!started) out.start(command);
    out.error(explained, detail, errorCode(e));
    out.finish(explained.exitCode, ctx?.rows);
    return explained.exitCode;
  }
}
