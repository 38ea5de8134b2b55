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
