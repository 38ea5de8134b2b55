// The canflash command line. flashtool's short flags keep working at the top
// level (-q, -u, -f, -s, -r, -i, -d, -b, -v); the same actions exist as
// subcommands with their own --help and examples.

import { Command, CommanderError, Option } from "commander";
import { pino } from "pino";
import { setRootLogger } from "../util/log.js";
import { CanflashError } from "../util/errors.js";
import {
  flashCommand,
  queryCommand,
  requestCommand,
  statusCommand,
  type CanCommandOptions,
} from "./commands/can.js";
import type { CommandContext } from "./commands/context.js";
import { simCommand } from "./commands/sim.js";
import {
  serialFlashCommand,
  serialRequestCommand,
  serialStatusCommand,
} from "./commands/serial.js";
import { resolveTarget, targetsCommand } from "./commands/targets.js";
import { ExitCode, type ExitCodeValue } from "./exit-codes.js";
import { DEFAULT_FIRMWARE } from "./firmware.js";
import { explain } from "./hints.js";
import type { CliIo } from "./io.js";
import { Output } from "./output.js";
import { UsageError } from "./usage-error.js";

interface CommonFlags {
  interface: string;
  uuid: string[];
  verbose?: boolean;
  quiet?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function common(cmd: Command, defaults = false): Command {
  return cmd
    .option(
      "-i, --interface <name>",
      'CAN interface: can0, vcan0, "sim" (built-in demo bus) or virtual:<name>',
      defaults ? "can0" : undefined,
    )
    .option("-v, --verbose", "debug logging and stack traces on stderr")
    .option("--quiet", "only result lines and errors");
}

const EXAMPLES = `
Examples:
  canflash -q                                   list CAN nodes waiting for a node id (Katapult and Klipper)
  canflash -u aabbccddeeff ~/klipper/out/klipper.bin
                                                flash one node over CAN (can0) and verify it
  canflash -i sim -q                            try it without hardware: the built-in demo bus
  canflash -i sim -u 8266c4636429 klipper.bin   flash a simulated board
  canflash -s -u aabbccddeeff                   print what the node's bootloader reports
  canflash -r -u aabbccddeeff                   put the node into its bootloader and stop
  canflash sim -i vcan0 --katapult 8266c4636429 simulated boards on vcan0 until Ctrl-C

Exit codes: 0 ok, 1 failure, 2 usage/bad input, 3 no node answered, 4 verify mismatch,
            5 interface unusable, 6 image refused by a pre-flight check, 130 interrupted.`;

function parseBaud(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`-b ${text}: the baud rate must be a positive integer`, "e.g. -b 250000");
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
  let exitCode: ExitCodeValue = ExitCode.OK;
  let verbose = argv.includes("-v") || argv.includes("--verbose");
  let out = new Output(io, { verbose });
  const context = (flags: CommonFlags): CommandContext => {
    verbose = !!flags.verbose;
    out = new Output(io, { quiet: !!flags.quiet, verbose });
    if (verbose) setRootLogger(pino({ level: "debug" }, pino.destination(2)));
    return { io, out, signal, verbose };
  };
  let ctx: CommandContext | undefined;
  const act =
    (
      fn: (
        flags: CommonFlags & Record<string, unknown>,
        c: CommandContext,
      ) => Promise<ExitCodeValue>,
    ) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      // Subcommand options win; options typed before the subcommand apply too.
      const flags = { ...cmd.opts<CommonFlags & Record<string, unknown>>() };
      const root = cmd.parent;
      if (root) {
        for (const key of ["interface", "verbose", "quiet"] as const) {
          if (flags[key] === undefined && root.getOptionValueSource(key) === "cli") {
            (flags as Record<string, unknown>)[key] = root.opts<Record<string, unknown>>()[key];
          }
        }
      }
      flags.interface ??= "can0";
      ctx = context(flags);
      exitCode = await fn({ ...flags, _args: cmd.args }, ctx);
    };
  const canOpts = (f: CommonFlags & Record<string, unknown>): CanCommandOptions => ({
    iface: f.interface,
    uuids: f.uuid,
    ...(f.queryMs !== undefined ? { queryMs: Number(f.queryMs) } : {}),
  });

  const program = common(new Command("canflash"), true)
    .description(
      "Find and flash 3D-printer micro-controllers: Katapult and Klipper over CAN, and more.",
    )
    .usage("[options] [file]")
    .argument("[file]", "firmware to flash (default with -u: ~/klipper/out/klipper.bin)")
    .option("-q, --query", "list CAN nodes that wait for a node id")
    .option("-u, --uuid <uuid>", "the CAN node to act on", collect, [] as string[])
    .option("-f, --file <path>", "firmware file (same as the [file] argument)")
    .option("-s, --status", "connect to the node's bootloader and print its status")
    .option("-r, --request-bootloader", "put the node into its bootloader and stop")
    .option(
      "-d, --device <tty>",
      "serial/USB device of a Katapult or Klipper board (e.g. /dev/serial/by-id/usb-katapult_…)",
    )
    .option("-b, --baud <rate>", "UART baud rate of Katapult (default 250000; USB ignores it)")
    .option(
      "--target <id>",
      "the board/chip from `canflash targets` (sets protocol, baud, application area)",
    )
    .addOption(new Option("--query-ms <ms>", "how long a query listens").hideHelp())
    .addHelpText("after", EXAMPLES)
    .showHelpAfterError("(run canflash --help for usage)")
    .enablePositionalOptions()
    .action(
      act(async (f, c) => {
        const args = f._args as string[];
        const target = resolveTarget(f.target as string | undefined);
        if (f.device) {
          if (f.uuid.length > 0)
            throw new UsageError("give either -d <tty> or -u <uuid>, not both");
          const so = {
            device: f.device as string,
            ...(f.baud !== undefined ? { baud: parseBaud(f.baud as string) } : {}),
            ...(target ? { target } : {}),
          };
          if (f.requestBootloader) return serialRequestCommand(so, c);
          if (f.status) return serialStatusCommand(so, c);
          return serialFlashCommand(
            { ...so, file: (f.file as string | undefined) ?? args[0] ?? DEFAULT_FIRMWARE },
            c,
          );
        }
        if (f.query) return queryCommand(canOpts(f), c);
        if (f.requestBootloader) return requestCommand(canOpts(f), c);
        if (f.status) return statusCommand(canOpts(f), c);
        const file = (f.file as string | undefined) ?? args[0];
        if (f.uuid.length > 0)
          return flashCommand({ ...canOpts(f), file: file ?? DEFAULT_FIRMWARE }, c);
        if (file)
          throw new UsageError(
            `which node should get ${file}?`,
            `give its UUID: canflash -u <uuid> ${file} (list them: canflash -i ${f.interface} -q)`,
          );
        throw new UsageError(
          "nothing to do",
          "canflash -q to list nodes, canflash -u <uuid> <file> to flash, canflash --help for more",
        );
      }),
    );

  common(program.command("query"))
    .description("list CAN nodes that wait for a node id (Katapult and Klipper)")
    .option("--query-ms <ms>", "how long to listen for answers", "1000")
    .addHelpText("after", "\nExamples:\n  canflash query -i can0\n  canflash query -i sim")
    .action(act((f, c) => queryCommand(canOpts(f), c)));

  common(program.command("flash"))
    .description("flash a node over CAN through Katapult and verify it by reading it back")
    .argument("[file]", "firmware file", DEFAULT_FIRMWARE)
    .requiredOption("-u, --uuid <uuid>", "the node to flash", collect, [] as string[])
    .addHelpText(
      "after",
      "\nExamples:\n  canflash flash -u aabbccddeeff ~/klipper/out/klipper.bin\n  canflash flash -i sim -u 8266c4636429 klipper.bin",
    )
    .action(
      act((f, c) =>
        flashCommand({ ...canOpts(f), file: (f._args as string[])[0] ?? DEFAULT_FIRMWARE }, c),
      ),
    );

  common(program.command("status"))
    .description(
      "connect to a node's bootloader and print what it reports (the node stays in its bootloader)",
    )
    .requiredOption("-u, --uuid <uuid>", "the node", collect, [] as string[])
    .addHelpText("after", "\nExample:\n  canflash status -u aabbccddeeff")
    .action(act((f, c) => statusCommand(canOpts(f), c)));

  common(program.command("request-bootloader"))
    .description("put a node into its bootloader and confirm it answers as Katapult")
    .requiredOption("-u, --uuid <uuid>", "the node", collect, [] as string[])
    .addHelpText("after", "\nExample:\n  canflash request-bootloader -u aabbccddeeff")
    .action(act((f, c) => requestCommand(canOpts(f), c)));

  common(program.command("targets"))
    .description("list the chips and bootloaders canflash knows (and which this build flashes)")
    .argument("[id]", "show one target in full (id or chip)")
    .option("--json", "one JSON object per line")
    .addHelpText("after", "\nExamples:\n  canflash targets\n  canflash targets atmega2560")
    .action(
      act((f, c) =>
        targetsCommand(
          { json: !!f.json, ...((f._args as string[])[0] ? { id: (f._args as string[])[0] } : {}) },
          c,
        ),
      ),
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
      act((f, c) =>
        simCommand(
          {
            iface: f.interface,
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

  program.exitOverride();
  program.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      )
        return ExitCode.OK;
      return ExitCode.USAGE;
    }
    const iface = argValue(argv, ["-i", "--interface"]) ?? "can0";
    const explained = explain(e, { iface, ...(ctx?.retry ? { retry: ctx.retry } : {}) });
    const detail =
      e instanceof Error
        ? (e.stack ?? String(e)) +
          (e instanceof CanflashError && e.cause
            ? `\ncause: ${e.cause instanceof Error ? (e.cause.stack ?? e.cause.message) : JSON.stringify(e.cause)}`
            : "")
        : String(e);
    out.error(explained, detail);
    return explained.exitCode;
  }
}
