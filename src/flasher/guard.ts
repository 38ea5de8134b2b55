// A running Klipper holds its boards: asking one of them into its bootloader
// (or opening its serial port) would cut Klippy off mid-print. Before any
// frame is sent, the guard works out which of the boards Klippy holds —
// from its printer.cfg (canbus_uuid, serial) and the processes holding the
// serial ports — and refuses (KlipperHoldsBoardsError), unless the caller
// allows stopping it: then it stops Klipper (never while a print runs) and
// returns the function that starts it again, for the caller's finally.
// Decisions go out as events; the caller words them.

import { realpath } from "node:fs/promises";
import { isSimulatedInterface } from "./buses.js";
import { detectKlipper, type DetectOptions, type KlipperStatus } from "../klippy-bridge/klippy.js";
import {
  printState,
  startKlipper,
  stopKlipper,
  type ServiceOptions,
} from "../klippy-bridge/klipper-service.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import { findPortHolders } from "../transport/port-holders.js";
import { CanflashError } from "../util/errors.js";
import { choosePrinterConfig } from "./printer-config.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    KLIPPER_HOLDS_BOARDS: true;
    KLIPPER_PRINTING: true;
  }
}

export type { DetectOptions };

export class KlipperHoldsBoardsError extends CanflashError {
  constructor(
    readonly boards: string[],
    /** How canflash knows: the printer.cfg that names them, or undefined (none readable: all count). */
    readonly configPath: string | undefined,
    readonly configNote: string | undefined,
  ) {
    super(
      "KLIPPER_HOLDS_BOARDS",
      `Klipper is running and holds ${boards.join(", ")} (${configPath ? `they are in ${configPath}` : `its printer.cfg could not be read${configNote ? `: ${configNote}` : ""}, so every board counts as held`}): flashing now would cut it off`,
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
  iface?: string;
  /** Absolute device path (serial boards). */
  device?: string;
}

export type KlipperEvent =
  | { type: "klipper"; action: "left-alone"; reason: "holds-none" }
  | { type: "klipper"; action: "would-stop"; boards: string[] }
  | { type: "klipper"; action: "stopping"; boards: string[] }
  | { type: "klipper"; action: "stopped"; via: string }
  | { type: "klipper"; action: "stays-stopped" }
  | { type: "klipper"; action: "starting" }
  | { type: "klipper"; action: "started"; via: string; state: string | undefined }
  | { type: "klipper"; action: "start-failed"; error: Error };

export interface GuardOptions {
  /** Stop a Klipper that holds boards (and start it again afterwards). */
  stopKlipper: boolean;
  dryRun?: boolean;
  /** printer.cfg given by the caller. */
  config?: string | undefined;
  cwd: string;
  home?: string | undefined;
  /**
   * How Klipper is looked for and controlled (tests point it at fakes).
   * Given, the guard also runs for simulated buses.
   */
  host?: DetectOptions | undefined;
  onEvent?: (e: KlipperEvent) => void;
}

const same = async (a: string, b: string) =>
  a === b || (await realpath(a).catch(() => a)) === (await realpath(b).catch(() => b));

/** Which boards a running Klipper holds, and how we know. */
async function heldBoards(
  boards: readonly GuardBoard[],
  klipper: KlipperStatus,
  o: GuardOptions,
): Promise<{ held: GuardBoard[]; configPath: string | undefined; note: string | undefined }> {
  const choice = await choosePrinterConfig({
    path: o.config,
    iface: "",
    cwd: o.cwd,
    home: o.home,
    klipper,
  }).catch(() => ({ config: undefined, note: "printer.cfg unreadable" }));
  const procRoot = o.host?.procRoot;
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
  return { held, configPath: choice.config?.path, note: choice.note };
}

export interface GuardResult {
  /** Starts Klipper again (call it in a finally); absent when it was not stopped. */
  restart?: () => Promise<void>;
  /** Klipper was running when the guard looked (undefined: not looked for, the boards are simulated). */
  klipperRunning: boolean | undefined;
}

/**
 * Checks the boards against a running Klipper; when allowed, stops it and
 * returns the function that starts it again (call it in a finally).
 * Throws KlipperHoldsBoardsError, KlipperPrintingError or KlipperControlError.
 */
export async function guardKlipper(
  boards: readonly GuardBoard[],
  o: GuardOptions,
): Promise<(() => Promise<void>) | undefined> {
  return (await checkKlipper(boards, o)).restart;
}

/** guardKlipper, also telling whether Klipper was running (node ids Klippy uses are safe to probe only when not). */
export async function checkKlipper(
  boards: readonly GuardBoard[],
  o: GuardOptions,
): Promise<GuardResult> {
  return guardInner(boards, o);
}

async function guardInner(boards: readonly GuardBoard[], o: GuardOptions): Promise<GuardResult> {
  const emit = (e: KlipperEvent) => o.onEvent?.(e);
  // Simulated buses are not the printer's; a real Klipper matters only for real links.
  const onlySimulated = boards.every((b) => !b.device && b.iface && isSimulatedInterface(b.iface));
  if (onlySimulated && !o.host) return { klipperRunning: undefined };
  const klipper = await detectKlipper(o.host ?? {});
  if (!klipper.running) return { klipperRunning: false };
  const { held, configPath, note } = await heldBoards(boards, klipper, o);
  if (held.length === 0) {
    emit({ type: "klipper", action: "left-alone", reason: "holds-none" });
    return { klipperRunning: true };
  }
  const labels = held.map((b) => b.label);
  if (!o.stopKlipper) throw new KlipperHoldsBoardsError(labels, configPath, note);

  const service: ServiceOptions = {
    ...(o.host?.moonrakerUrl !== undefined ? { moonrakerUrl: o.host.moonrakerUrl } : {}),
    ...(o.host?.systemctl === null ? { systemctl: null } : {}),
    detect: o.host ?? {},
  };
  const state = await printState(service);
  if (state === "printing" || state === "paused") throw new KlipperPrintingError(state);
  if (o.dryRun) {
    emit({ type: "klipper", action: "would-stop", boards: labels });
    return { klipperRunning: true };
  }
  emit({ type: "klipper", action: "stopping", boards: labels });
  const { via } = await stopKlipper(service);
  emit({ type: "klipper", action: "stopped", via });
  // Stopped now: Klippy's node ids are free to probe.
  return {
    klipperRunning: false,
    restart: async () => {
      emit({ type: "klipper", action: "starting" });
      try {
        const r = await startKlipper(service);
        emit({ type: "klipper", action: "started", via: r.via, state: r.state });
      } catch (e) {
        emit({ type: "klipper", action: "start-failed", error: e as Error });
      }
    },
  };
}

/**
 * For operations that leave the board in its bootloader (-r, -s): Klipper
 * is stopped if it must be, and stays stopped — it could not talk to the board.
 */
export async function guardKlipperKeepStopped(
  board: GuardBoard,
  o: Omit<GuardOptions, "dryRun">,
): Promise<void> {
  const restart = await guardKlipper([board], { ...o, dryRun: false });
  if (restart) o.onEvent?.({ type: "klipper", action: "stays-stopped" });
}
