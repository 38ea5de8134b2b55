// A running Klipper holds its boards: asking one of them into its bootloader
// (or opening its serial port) would cut Klippy off mid-print. Before any
// frame is sent, canflash works out which of the boards to flash Klippy
// holds — from its printer.cfg (canbus_uuid, serial) and the processes
// holding the serial ports — and refuses, unless --stop-klipper: then it
// stops Klipper (never while a print runs), flashes, and starts it again
// afterwards, on success, failure or Ctrl-C alike.

import { realpath } from "node:fs/promises";
import { isVirtualChannel } from "../can/open.js";
import { detectKlipper, type KlipperStatus } from "../klippy-bridge/klippy.js";
import {
  printState,
  startKlipper,
  stopKlipper,
  type ServiceOptions,
} from "../klippy-bridge/klipper-service.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import { findPortHolders } from "../transport/port-holders.js";
import { CanflashError } from "../util/errors.js";
import { DEMO_INTERFACE } from "./bus.js";
import { ExitCode } from "./exit-codes.js";
import type { CommandContext } from "./commands/context.js";
import { choosePrinterConfig } from "./printer-config.js";

export class KlipperHoldsBoardsError extends CanflashError {
  constructor(
    readonly boards: string[],
    readonly why: string,
  ) {
    super(
      "KLIPPER_HOLDS_BOARDS",
      `Klipper is running and holds ${boards.join(", ")} (${why}): flashing now would cut it off`,
    );
  }
}

export class KlipperPrintingError extends CanflashError {
  constructor(readonly state: string) {
    super(
      "KLIPPER_PRINTING",
      `Klipper is ${state === "printing" ? "printing" : `in a print (${state})`}: canflash will not stop it`,
    );
  }
}

export interface GuardBoard {
  label: string;
  uuid?: Uuid;
  iface: string;
  /** Absolute device path (serial boards). */
  device?: string;
}

export interface GuardOptions {
  stopKlipper: boolean;
  dryRun: boolean;
  config: string | undefined;
}

const same = async (a: string, b: string) =>
  a === b || (await realpath(a).catch(() => a)) === (await realpath(b).catch(() => b));

/** Which boards a running Klipper holds, and how we know. */
async function heldBoards(
  boards: readonly GuardBoard[],
  klipper: KlipperStatus,
  ctx: CommandContext,
  config: string | undefined,
): Promise<{ held: GuardBoard[]; why: string }> {
  const choice = await choosePrinterConfig({
    flag: config,
    iface: "",
    cwd: ctx.io.cwd,
    home: ctx.io.host?.home,
    klipper,
  }).catch(() => ({ config: undefined, note: "printer.cfg unreadable" }));
  const procRoot = ctx.io.host?.klipper?.procRoot;
  const held: GuardBoard[] = [];
  for (const b of boards) {
    if (b.device) {
      const holders = await findPortHolders(b.device, procRoot).catch(() => []);
      const byKlippy = holders.some((h) => /klipp/i.test(h.cmdline));
      const configured =
        choice.config !== undefined &&
        (
          await Promise.all(
            choice.config.mcus.filter((m) => m.serial).map((m) => same(m.serial!, b.device!)),
          )
        ).some(Boolean);
      if (byKlippy || configured) held.push(b);
    } else if (!choice.config) {
      held.push(b); // cannot tell which CAN nodes it holds: assume all
    } else if (choice.config.mcus.some((m) => m.canbusUuid === b.uuid)) {
      held.push(b);
    }
  }
  const why = choice.config
    ? `they are in ${choice.config.path}`
    : `its printer.cfg could not be read${choice.note ? `: ${choice.note}` : ""}, so every board counts as held`;
  return { held, why };
}

/**
 * For commands that leave the board in its bootloader (-r, -s): Klipper is
 * stopped if it must be, and stays stopped — it could not talk to the board.
 */
export async function guardKlipperKeepStopped(
  board: GuardBoard,
  o: { stopKlipper: boolean; config: string | undefined },
  ctx: CommandContext,
): Promise<void> {
  const restart = await guardKlipper([board], { ...o, dryRun: false }, ctx);
  if (restart)
    ctx.out.info(
      "Klipper stays stopped while the board waits in its bootloader: flash it, then sudo systemctl start klipper",
    );
}

/**
 * Checks the boards against a running Klipper; with --stop-klipper stops it
 * and returns the function that starts it again (call it in a finally).
 */
export async function guardKlipper(
  boards: readonly GuardBoard[],
  o: GuardOptions,
  ctx: CommandContext,
): Promise<(() => Promise<void>) | undefined> {
  const hostHook = ctx.io.host?.klipper;
  // Simulated buses are not the printer's; a real Klipper matters only for real links.
  const onlySimulated = boards.every(
    (b) => !b.device && (b.iface === DEMO_INTERFACE || isVirtualChannel(b.iface)),
  );
  if (onlySimulated && !hostHook) return undefined;
  const klipper = await detectKlipper(hostHook ?? {});
  if (!klipper.running) return undefined;
  const { held, why } = await heldBoards(boards, klipper, ctx, o.config);
  if (held.length === 0) {
    ctx.out.info("Klipper is running, but holds none of these boards: it is left alone");
    return undefined;
  }
  if (!o.stopKlipper)
    throw new KlipperHoldsBoardsError(
      held.map((b) => b.label),
      why,
    );

  const service: ServiceOptions = {
    ...(hostHook?.moonrakerUrl !== undefined ? { moonrakerUrl: hostHook.moonrakerUrl } : {}),
    ...(hostHook?.systemctl === null ? { systemctl: null } : {}),
    detect: hostHook ?? {},
  };
  const state = await printState(service);
  if (state === "printing" || state === "paused") throw new KlipperPrintingError(state);
  if (o.dryRun) {
    ctx.out.info(
      `Dry run: would stop Klipper (it holds ${held.map((b) => b.label).join(", ")}) and start it again afterwards`,
    );
    return undefined;
  }
  ctx.out.info(`Stopping Klipper (it holds ${held.map((b) => b.label).join(", ")})...`);
  const { via } = await stopKlipper(service);
  ctx.out.info(`Klipper stopped (via ${via}); it is started again when canflash finishes`);
  return async () => {
    ctx.out.info("Starting Klipper...");
    try {
      const r = await startKlipper(service);
      ctx.out.info(
        r.state === "ready" || r.state === "running"
          ? `Klipper started (via ${r.via}): ${r.state}`
          : `Klipper started (via ${r.via}) but reports "${r.state ?? "no state yet"}": check Mainsail/Fluidd (a board on new firmware may need FIRMWARE_RESTART)`,
      );
    } catch (e) {
      ctx.out.error({
        exitCode: ExitCode.FAILURE,
        message: (e as Error).message,
        causes: [],
        next: [(e as { fix?: string }).fix ?? "sudo systemctl start klipper"],
      });
    }
  };
}
