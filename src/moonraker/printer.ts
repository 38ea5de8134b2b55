// What the agent asks Moonraker about the printer, and how it stops and
// starts Klipper: server.info (is Klippy connected, its state), printer.info
// (host Klipper version, printer.cfg path), printer.objects.query
// (print_stats / idle_timeout: is it printing; each mcu object's
// mcu_version; configfile warnings and config), machine.services.stop and
// start, printer.firmware_restart. Waits are polls with named deadlines.

import {
  KLIPPER_POLL_MS,
  KLIPPER_START_TIMEOUT_MS,
  KLIPPER_STOP_TIMEOUT_MS,
} from "../klippy-bridge/klipper-service.js";
import { delay, realClock, type Clock } from "../util/clock.js";
import { KlippyNotReadyError, MoonrakerRpcError } from "./errors.js";
import { KlipperControlError } from "../klippy-bridge/klipper-service.js";

/** Anything that calls Moonraker's JSON-RPC methods. */
export interface MoonrakerCaller {
  call<T = unknown>(method: string, params?: unknown): Promise<T>;
}

export interface KlippyState {
  connected: boolean;
  /** "ready", "startup", "error", "shutdown", "disconnected". */
  state: string;
}

export async function klippyState(c: MoonrakerCaller): Promise<KlippyState> {
  const r = await c.call<{ klippy_connected?: boolean; klippy_state?: string }>("server.info");
  return { connected: !!r.klippy_connected, state: r.klippy_state ?? "disconnected" };
}

export interface PrinterActivity {
  /** print_stats.state: "standby", "printing", "paused", "complete", "cancelled", "error". */
  printState: string | undefined;
  /** idle_timeout.state: "Idle", "Ready", "Printing". */
  idleState: string | undefined;
}

/** What print_stats and idle_timeout say (both undefined when Klippy is not connected). */
export async function printerActivity(c: MoonrakerCaller): Promise<PrinterActivity> {
  const r = await c.call<{
    status?: { print_stats?: { state?: string }; idle_timeout?: { state?: string } };
  }>("printer.objects.query", {
    objects: { print_stats: ["state"], idle_timeout: ["state"] },
  });
  return {
    printState: r.status?.print_stats?.state,
    idleState: r.status?.idle_timeout?.state,
  };
}

/** A print is running or paused (flashing would end it), or the toolhead is busy printing. */
export function isPrinting(a: PrinterActivity): string | undefined {
  if (a.printState === "printing" || a.printState === "paused") return a.printState;
  if (a.idleState === "Printing") return "printing";
  return undefined;
}

export interface HostInfo {
  /** Klipper's version on the host (git describe), e.g. "v0.13.0-120-gabcdef12". */
  softwareVersion: string | undefined;
  /** The printer.cfg Klippy runs with. */
  configFile: string | undefined;
}

export async function hostInfo(c: MoonrakerCaller): Promise<HostInfo> {
  const r = await c.call<{ software_version?: string; config_file?: string }>("printer.info");
  return { softwareVersion: r.software_version, configFile: r.config_file };
}

/** One mcu printer object as Klipper reports it. */
export interface McuObject {
  /** The object's name: "mcu", "mcu EBBCan". */
  object: string;
  mcuVersion: string | undefined;
  /** mcu_constants.MCU: "stm32g0b1xx". */
  chip: string | undefined;
}

/** A configfile warning (deprecated_mcu_code and the others). */
export interface ConfigWarning {
  type: string;
  message: string;
  mcu?: string;
  feature?: string;
}

export interface McuReport {
  mcus: McuObject[];
  warnings: ConfigWarning[];
  /** configfile.config: section → option → raw value. */
  config: Record<string, Record<string, string>>;
  /** canbus_stats <name>: bus_state, rx_error, tx_error, tx_retries, by Klipper's MCU name. */
  canbusStats: Record<string, Record<string, unknown>>;
}

/** Every mcu object with its version, and configfile's warnings and raw config. */
export async function mcuReport(c: MoonrakerCaller): Promise<McuReport> {
  const list = await c.call<{ objects?: string[] }>("printer.objects.list");
  const names = (list.objects ?? []).filter((n) => /^mcu(\s|$)/.test(n));
  const stats = (list.objects ?? []).filter((n) => /^canbus_stats\s/.test(n));
  const objects: Record<string, unknown> = { configfile: ["warnings", "config"] };
  for (const n of names) objects[n] = ["mcu_version", "mcu_constants"];
  for (const n of stats) objects[n] = null;
  const r = await c.call<{ status?: Record<string, Record<string, unknown>> }>(
    "printer.objects.query",
    { objects },
  );
  const status = r.status ?? {};
  const cf = status.configfile ?? {};
  return {
    mcus: names.map((object) => {
      const s = status[object] ?? {};
      const constants = s.mcu_constants as Record<string, unknown> | undefined;
      return {
        object,
        mcuVersion: typeof s.mcu_version === "string" ? s.mcu_version : undefined,
        chip: typeof constants?.MCU === "string" ? constants.MCU : undefined,
      };
    }),
    warnings: Array.isArray(cf.warnings) ? (cf.warnings as ConfigWarning[]) : [],
    config: (cf.config as McuReport["config"] | undefined) ?? {},
    canbusStats: Object.fromEntries(
      stats.filter((n) => status[n]).map((n) => [n.replace(/^canbus_stats\s+/, ""), status[n]!]),
    ),
  };
}

export interface ServiceWait {
  service: string;
  clock?: Clock;
  stopTimeoutMs?: number;
  startTimeoutMs?: number;
  pollMs?: number;
}

async function pollState(
  c: MoonrakerCaller,
  o: ServiceWait,
  timeoutMs: number,
  done: (s: KlippyState) => boolean,
): Promise<KlippyState> {
  const clock = o.clock ?? realClock;
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const s = await klippyState(c);
    if (done(s) || clock.now() >= deadline) return s;
    await delay(clock, o.pollMs ?? KLIPPER_POLL_MS, undefined, "waiting for Klippy");
  }
}

/** machine.services.stop, then waits until Moonraker has lost Klippy. Throws KlipperControlError. */
export async function stopKlipperService(c: MoonrakerCaller, o: ServiceWait): Promise<void> {
  try {
    await c.call("machine.services.stop", { service: o.service });
  } catch (e) {
    throw new KlipperControlError({
      action: "stop",
      service: o.service,
      reason: "refused",
      problems: [{ via: "moonraker", message: (e as Error).message }],
    });
  }
  const timeoutMs = o.stopTimeoutMs ?? KLIPPER_STOP_TIMEOUT_MS;
  const s = await pollState(c, o, timeoutMs, (st) => !st.connected);
  if (s.connected)
    throw new KlipperControlError({
      action: "stop",
      service: o.service,
      reason: "still-running",
      problems: [],
      via: "moonraker",
      timeoutMs,
    });
}

/**
 * machine.services.start, then waits for Klippy "ready"; a Klippy that
 * comes up in "error" or "shutdown" (an MCU was not back yet) gets one
 * printer.firmware_restart. Resolves with how it got ready; throws
 * KlippyNotReadyError or KlipperControlError.
 */
export async function startKlipperService(
  c: MoonrakerCaller,
  o: ServiceWait,
): Promise<{ firmwareRestart: boolean }> {
  try {
    await c.call("machine.services.start", { service: o.service });
  } catch (e) {
    throw new KlipperControlError({
      action: "start",
      service: o.service,
      reason: "refused",
      problems: [{ via: "moonraker", message: (e as Error).message }],
    });
  }
  const timeoutMs = o.startTimeoutMs ?? KLIPPER_START_TIMEOUT_MS;
  const settled = (st: KlippyState) =>
    st.connected && ["ready", "error", "shutdown"].includes(st.state);
  let s = await pollState(c, o, timeoutMs, settled);
  if (s.state === "ready") return { firmwareRestart: false };
  if (s.connected && (s.state === "error" || s.state === "shutdown")) {
    await c.call("printer.firmware_restart").catch((e: unknown) => {
      if (!(e instanceof MoonrakerRpcError)) throw e;
    });
    s = await pollState(c, o, timeoutMs, (st) => st.connected && st.state === "ready");
    if (s.state === "ready") return { firmwareRestart: true };
  }
  throw new KlippyNotReadyError(s.connected ? s.state : undefined, timeoutMs);
}

/** A board that waits in its bootloader, as Moonraker's peripherals show it. */
export interface WaitingBoard {
  /** Its printer.cfg name when printer.cfg names its UUID or tty. */
  name?: string;
  via: "canbus" | "serial";
  uuid?: string;
  interface?: string;
  device?: string;
}

/**
 * Boards in Katapult: USB serial devices whose by-id name says katapult
 * (machine.peripherals.serial, a sysfs read), and — only when `canbus` is
 * set, since it puts a query on each bus — unassigned CAN nodes that answer
 * as Katapult (machine.peripherals.canbus per interface).
 */
export async function waitingBoards(
  c: MoonrakerCaller,
  o: { canbus: boolean; config: Record<string, Record<string, string>> },
): Promise<WaitingBoard[]> {
  const named = (pred: (section: Record<string, string>) => boolean): string | undefined => {
    const hit = Object.entries(o.config).find(([k, v]) => /^mcu(\s|$)/.test(k) && pred(v));
    return hit ? hit[0].replace(/^mcu\s+/, "").trim() || "mcu" : undefined;
  };
  const out: WaitingBoard[] = [];
  const serial = await c.call<{
    serial_devices?: Array<{ device_path?: string; path_by_id?: string | null }>;
  }>("machine.peripherals.serial");
  for (const d of serial.serial_devices ?? []) {
    const byId = d.path_by_id ?? undefined;
    if (!byId || !/usb-katapult_/i.test(byId)) continue;
    const name = named((s) => s.serial?.trim() === byId);
    out.push({ via: "serial", device: byId, ...(name ? { name } : {}) });
  }
  if (o.canbus) {
    const ifaces = new Set<string>();
    for (const [k, v] of Object.entries(o.config))
      if (/^mcu(\s|$)/.test(k) && v.canbus_uuid) ifaces.add(v.canbus_interface?.trim() || "can0");
    for (const iface of ifaces) {
      const r = await c.call<{ can_uuids?: Array<{ uuid?: string; application?: string }> }>(
        "machine.peripherals.canbus",
        { interface: iface },
      );
      for (const n of r.can_uuids ?? []) {
        if (!n.uuid || n.application !== "Katapult") continue;
        const uuid = n.uuid.toLowerCase();
        const name = named((s) => s.canbus_uuid?.trim().toLowerCase() === uuid);
        out.push({ via: "canbus", uuid, interface: iface, ...(name ? { name } : {}) });
      }
    }
  }
  return out;
}
