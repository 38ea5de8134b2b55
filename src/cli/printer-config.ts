// Which printer.cfg the CLI reads: --config, else the one a running klippy
// was started with, else the usual install locations — but for the demo and
// in-process buses only when asked (their nodes are not the printer's).
// A config that cannot be read is a warning, never the end of a query.

import { stat } from "node:fs/promises";
import { isVirtualChannel } from "../can/open.js";
import { configuredMcus, type ConfiguredMcu } from "../klippy-bridge/mcu-inventory.js";
import { loadPrinterConfig } from "../klippy-bridge/printer-cfg.js";
import { defaultPrinterConfigPaths, nodeConfigFs } from "../klippy-bridge/printer-cfg-fs.js";
import type { KlipperStatus } from "../klippy-bridge/klippy.js";
import { DEMO_INTERFACE } from "./bus.js";
import { expandPath } from "./firmware.js";
import { UsageError } from "./usage-error.js";
import type { FlashEntry } from "./commands/flash.js";

export interface CliPrinterConfig {
  path: string;
  mcus: ConfiguredMcu[];
}

export interface PrinterConfigChoice {
  config: CliPrinterConfig | undefined;
  /** Why none was read, or what went wrong reading it. */
  note: string | undefined;
}

export async function choosePrinterConfig(o: {
  flag: string | undefined;
  iface: string;
  cwd: string;
  home: string | undefined;
  klipper: KlipperStatus | undefined;
}): Promise<PrinterConfigChoice> {
  let path: string | undefined;
  if (o.flag !== undefined) {
    path = expandPath(o.flag, o.cwd, o.home);
    if (!(await stat(path).catch(() => undefined))?.isFile())
      throw new UsageError(
        `printer config not found: ${path}`,
        "give the path of printer.cfg with --config <file>",
      );
  } else {
    if (o.iface === DEMO_INTERFACE || isVirtualChannel(o.iface))
      return { config: undefined, note: undefined };
    const candidates = [
      ...(o.klipper?.processes.map((p) => p.config).filter((c): c is string => !!c) ?? []),
      ...defaultPrinterConfigPaths(o.home),
    ];
    for (const c of candidates) {
      if ((await stat(c).catch(() => undefined))?.isFile()) {
        path = c;
        break;
      }
    }
    if (!path)
      return {
        config: undefined,
        note: `no printer.cfg found (looked in ${candidates.join(", ")}; --config <file>)`,
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
 * Boards given by printer.cfg name (--mcu, manifest `mcu:`) become CAN
 * UUIDs on their canbus_interface or serial devices, before anything is
 * opened; an unknown name lists the known ones.
 */
export async function resolveMcuEntries(
  entries: FlashEntry[],
  o: {
    config: string | undefined;
    cwd: string;
    home: string | undefined;
    klipper: KlipperStatus | undefined;
  },
): Promise<FlashEntry[]> {
  if (!entries.some((e) => e.mcu !== undefined)) return entries;
  let path: string | undefined;
  if (o.config !== undefined) path = expandPath(o.config, o.cwd, o.home);
  else {
    const candidates = [
      ...(o.klipper?.processes.map((p) => p.config).filter((c): c is string => !!c) ?? []),
      ...defaultPrinterConfigPaths(o.home),
    ];
    for (const c of candidates)
      if ((await stat(c).catch(() => undefined))?.isFile()) {
        path = c;
        break;
      }
    if (!path)
      throw new UsageError(
        `boards named by printer.cfg section, but no printer.cfg found (looked in ${candidates.join(", ")})`,
        "give it with --config <file> (or `config:` in the manifest)",
      );
  }
  let mcus: ConfiguredMcu[];
  try {
    mcus = configuredMcus(await loadPrinterConfig(path, nodeConfigFs));
  } catch (e) {
    throw new UsageError(
      (e as Error).message,
      "fix printer.cfg, or name the boards by UUID (-u) or device (-d)",
    );
  }
  return entries.map((e) => {
    if (e.mcu === undefined) return e;
    const m = findConfiguredMcu(mcus, e.mcu);
    if (!m)
      throw new UsageError(
        `${path} has no [mcu ${e.mcu}]`,
        `known: ${mcus.map((x) => x.name).join(", ") || "none"} (or give the board by UUID with -u)`,
      );
    if (m.problem)
      throw new UsageError(
        `[${m.section}] in ${m.file}:${m.line}: ${m.problem}`,
        "fix printer.cfg",
      );
    const label = e.label === e.mcu ? m.name : e.label;
    if (m.canbusUuid)
      return {
        ...e,
        label,
        uuid: m.canbusUuid,
        iface: e.explicitIface ? e.iface : m.canbusInterface!,
      };
    if (m.serial?.startsWith("/tmp/"))
      throw new UsageError(
        `[${m.section}] is ${m.serial}, the Linux process MCU: it is not flashed`,
        "rebuild and reinstall it (make; sudo make flash) in ~/klipper",
      );
    return {
      ...e,
      label,
      device: m.serial!,
      ...(e.baud === undefined && m.baud !== undefined ? { baud: m.baud } : {}),
    };
  });
}
