// Which printer.cfg is read: the one given, else the one a running klippy
// was started with, else the usual install locations — but for simulated
// buses only when given (their nodes are not the printer's). A config that
// cannot be read is a note for a query, never its end. Boards named by
// printer.cfg section ("EBBCan") become CAN UUIDs on their
// canbus_interface, or serial devices, before anything is opened.

import { stat } from "node:fs/promises";
import { isSimulatedInterface } from "./buses.js";
import { detectKlipper, type DetectOptions, type KlipperStatus } from "../klippy-bridge/klippy.js";
import { configuredMcus, type ConfiguredMcu } from "../klippy-bridge/mcu-inventory.js";
import { defaultPrinterConfigPaths, nodeConfigFs } from "../klippy-bridge/printer-cfg-fs.js";
import { loadPrinterConfig } from "../klippy-bridge/printer-cfg.js";
import { CanflashError } from "../util/errors.js";
import { expandPath } from "./firmware.js";
import type { BoardSpec } from "./requests.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    PRINTER_CONFIG_NOT_FOUND: true;
    PRINTER_CONFIG_NONE: true;
    MCU_NOT_CONFIGURED: true;
    MCU_CONFIG_PROBLEM: true;
    MCU_IS_HOST_PROCESS: true;
  }
}

/** The printer.cfg that was asked for does not exist. */
export class PrinterConfigNotFoundError extends CanflashError {
  constructor(readonly path: string) {
    super("PRINTER_CONFIG_NOT_FOUND", `printer config not found: ${path}`);
  }
}

/** Boards were named by printer.cfg section, but no printer.cfg was found. */
export class NoPrinterConfigError extends CanflashError {
  constructor(readonly looked: readonly string[]) {
    super(
      "PRINTER_CONFIG_NONE",
      `boards named by printer.cfg section, but no printer.cfg found (looked in ${looked.join(", ")})`,
    );
  }
}

export class McuNotConfiguredError extends CanflashError {
  constructor(
    readonly mcu: string,
    readonly path: string,
    readonly known: readonly string[],
  ) {
    super("MCU_NOT_CONFIGURED", `${path} has no [mcu ${mcu}]`);
  }
}

export class McuConfigProblemError extends CanflashError {
  constructor(
    readonly section: string,
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super("MCU_CONFIG_PROBLEM", `[${section}] in ${file}:${line}: ${problem}`);
  }
}

/** The [mcu] is Klipper's Linux host process: it is built and installed, not flashed. */
export class HostMcuError extends CanflashError {
  constructor(
    readonly section: string,
    readonly serial: string,
  ) {
    super(
      "MCU_IS_HOST_PROCESS",
      `[${section}] is ${serial}, the Linux process MCU: it is not flashed`,
    );
  }
}

export interface PrinterConfig {
  path: string;
  mcus: ConfiguredMcu[];
}

export interface PrinterConfigChoice {
  config: PrinterConfig | undefined;
  /** Why none was read, or what went wrong reading it. */
  note: string | undefined;
}

export interface ConfigLookup {
  /** Given explicitly (--config, a manifest's config:). */
  path?: string | undefined;
  cwd: string;
  home?: string | undefined;
  klipper?: KlipperStatus | undefined;
}

const candidatesOf = (o: ConfigLookup): string[] => [
  ...(o.klipper?.processes.map((p) => p.config).filter((c): c is string => !!c) ?? []),
  ...defaultPrinterConfigPaths(o.home),
];

async function firstFile(paths: readonly string[]): Promise<string | undefined> {
  for (const c of paths) if ((await stat(c).catch(() => undefined))?.isFile()) return c;
  return undefined;
}

/** The printer.cfg to compare a bus with; `iface` simulated → only an explicit one. */
export async function choosePrinterConfig(
  o: ConfigLookup & { iface: string },
): Promise<PrinterConfigChoice> {
  let path: string | undefined;
  if (o.path !== undefined) {
    path = expandPath(o.path, o.cwd, o.home);
    if (!(await stat(path).catch(() => undefined))?.isFile())
      throw new PrinterConfigNotFoundError(path);
  } else {
    if (o.iface && isSimulatedInterface(o.iface)) return { config: undefined, note: undefined };
    const candidates = candidatesOf(o);
    path = await firstFile(candidates);
    if (!path)
      return {
        config: undefined,
        note: `no printer.cfg found (looked in ${candidates.join(", ")})`,
      };
  }
  try {
    const cfg = await loadPrinterConfig(path, nodeConfigFs);
    return { config: { path, mcus: configuredMcus(cfg) }, note: undefined };
  } catch (e) {
    return { config: undefined, note: `printer.cfg not used: ${(e as Error).message}` };
  }
}

/** Finds an [mcu …] by the name Klipper uses ("EBBCan", "mcu EBBCan", "mcu"); exact first, then ignoring case. */
export function findConfiguredMcu(
  mcus: readonly ConfiguredMcu[],
  name: string,
): ConfiguredMcu | undefined {
  const want = name.trim().replace(/^mcu\s+/, "");
  return (
    mcus.find((m) => m.name === want || m.section === name.trim()) ??
    mcus.find((m) => m.name.toLowerCase() === want.toLowerCase())
  );
}

/**
 * Boards given by printer.cfg name become CAN UUIDs on their
 * canbus_interface (unless the interface was given for them) or serial
 * devices. Throws NoPrinterConfigError, McuNotConfiguredError,
 * McuConfigProblemError, HostMcuError or the config's PrinterConfigError.
 */
export async function resolveMcuNames(
  specs: readonly BoardSpec[],
  o: ConfigLookup & {
    /** Without a path: where to look for a running klippy (and the config it was started with). */
    host?: DetectOptions | undefined;
  },
): Promise<BoardSpec[]> {
  if (!specs.some((e) => e.mcu !== undefined)) return [...specs];
  let path: string | undefined;
  if (o.path !== undefined) path = expandPath(o.path, o.cwd, o.home);
  else {
    const klipper = o.klipper ?? (await detectKlipper(o.host ?? {}));
    const candidates = candidatesOf({ ...o, klipper });
    path = await firstFile(candidates);
    if (!path) throw new NoPrinterConfigError(candidates);
  }
  const mcus = configuredMcus(await loadPrinterConfig(path, nodeConfigFs));
  return specs.map((e) => {
    if (e.mcu === undefined) return e;
    const m = findConfiguredMcu(mcus, e.mcu);
    if (!m)
      throw new McuNotConfiguredError(
        e.mcu,
        path,
        mcus.map((x) => x.name),
      );
    if (m.problem) throw new McuConfigProblemError(m.section, m.file, m.line, m.problem);
    const label = e.label === e.mcu ? m.name : e.label;
    if (m.canbusUuid)
      return {
        ...e,
        label,
        uuid: m.canbusUuid,
        iface: e.explicitIface ? e.iface : m.canbusInterface!,
      };
    if (m.serial?.startsWith("/tmp/")) throw new HostMcuError(m.section, m.serial);
    return {
      ...e,
      label,
      device: m.serial!,
      ...(e.baud === undefined && m.baud !== undefined ? { baud: m.baud } : {}),
    };
  });
}
