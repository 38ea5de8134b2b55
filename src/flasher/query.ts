// The query as a library call (-q): what is on a CAN interface — the nodes
// that answer, what they run, Klipper nodes that hold a node id — marked
// with their printer.cfg section, and the configured boards that did not
// show up, each with the likely reason as data. Node ids Klippy uses are
// probed only while no Klippy runs; a Klipper on this host matters only for
// a real bus.

import { KLIPPY_PROBE_IDS } from "../klippy-bridge/assigned.js";
import { detectKlipper, type DetectOptions } from "../klippy-bridge/klippy.js";
import { mcuForUuid, type ConfiguredMcu } from "../klippy-bridge/mcu-inventory.js";
import { isSimulatedInterface, openBus, type TraceSink } from "./buses.js";
import { choosePrinterConfig } from "./printer-config.js";
import { scanCanBus, type ScannedNode } from "./scan.js";
import type { UsbBackend } from "../usb/device.js";
import { listUsbBoards, type UsbBoardFound } from "./usb-devices.js";

export interface QueryOptions {
  iface: string;
  /** Identify Klipper nodes and look for nodes holding an id (default true). */
  identify?: boolean;
  /** CONNECT to Katapult nodes for version, MCU and geometry. */
  katapultInfo?: boolean;
  /** Listen this long for answers (default: the query window). */
  queryMs?: number;
  /** printer.cfg to compare with. */
  config?: string | undefined;
  cwd: string;
  home?: string | undefined;
  /** How Klipper is looked for (tests); given, it is looked for on simulated buses too. */
  host?: DetectOptions | undefined;
  signal?: AbortSignal;
  trace?: TraceSink;
  onEvent?: (e: QueryEvent) => void;
  /** Where USB bootloaders are listed (default: by name from the environment); null: not at all. */
  usbBackend?: UsbBackend | null;
}

export type QueryEvent =
  | { type: "config"; path: string | undefined; note: string | undefined }
  | { type: "scan-start"; iface: string };

/** Why a board printer.cfg names did not show up. */
export type MissingReason =
  | { kind: "other-interface"; iface: string }
  | { kind: "klipper-running" }
  /** Not in the query, not on its node id either. */
  | { kind: "no-answer-probed"; nodeId: number | undefined }
  /** Not in the query; node ids were not probed. */
  | { kind: "no-answer" };

export interface QueriedNode extends ScannedNode {
  /** Its [mcu …] section in printer.cfg. */
  section?: string;
}

export interface MissingBoard {
  section: string;
  uuid: string;
  iface: string;
  reason: MissingReason;
}

export interface QueryResult {
  iface: string;
  /** The interface's bitrate where known. */
  bitrate: number | undefined;
  configPath: string | undefined;
  klipperRunning: boolean;
  /** Klippy's node ids were probed for silent nodes. */
  probedKlippyIds: boolean;
  nodes: QueriedNode[];
  /** Answered on a probed node id but could not be identified (no UUID). */
  unnamed: Array<{ nodeId: number; error: string }>;
  missing: MissingBoard[];
  /** USB devices in a bootloader mode this build flashes, with the command for each. */
  usb: UsbBoardFound[];
}

function reasonFor(
  m: ConfiguredMcu,
  iface: string,
  klipperRunning: boolean,
  probed: boolean,
): MissingReason {
  if (m.canbusInterface !== iface) return { kind: "other-interface", iface: m.canbusInterface! };
  if (klipperRunning) return { kind: "klipper-running" };
  if (probed) return { kind: "no-answer-probed", nodeId: m.klipperNodeId };
  return { kind: "no-answer" };
}

/** Clears Katapult node ids, queries, identifies, and compares with printer.cfg. */
export async function queryInterface(o: QueryOptions): Promise<QueryResult> {
  const identify = o.identify ?? true;
  const simulated = isSimulatedInterface(o.iface);
  const klipper = simulated && !o.host ? undefined : await detectKlipper(o.host ?? {});
  const { config, note } = await choosePrinterConfig({
    path: o.config,
    iface: o.iface,
    cwd: o.cwd,
    home: o.home,
    klipper,
  });
  o.onEvent?.({ type: "config", path: config?.path, note });
  const onThisBus = (config?.mcus ?? []).filter((m) => m.canbusInterface === o.iface);
  const bus = await openBus(o.iface, o.trace);
  try {
    // Probing node ids Klippy uses is safe only while no Klippy talks to them.
    const probeKlippy = identify && !klipper?.running;
    const probeIds = probeKlippy
      ? [
          ...KLIPPY_PROBE_IDS,
          ...onThisBus.map((m) => m.klipperNodeId).filter((n): n is number => n !== undefined),
        ]
      : [];
    o.onEvent?.({ type: "scan-start", iface: o.iface });
    const scan = await scanCanBus(bus, {
      identify,
      katapultInfo: !!o.katapultInfo,
      probeIds,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.queryMs !== undefined ? { queryMs: o.queryMs } : {}),
    });
    const nodes = scan.nodes.map((n): QueriedNode => {
      const m = config ? mcuForUuid(config.mcus, n.uuid, o.iface) : undefined;
      return m ? { ...n, section: m.section } : n;
    });
    const found = new Set(scan.nodes.map((n) => n.uuid));
    const missing = (config?.mcus ?? [])
      .filter((m) => m.canbusUuid !== undefined && !found.has(m.canbusUuid))
      .map((m): MissingBoard => ({
        section: m.section,
        uuid: m.canbusUuid!,
        iface: m.canbusInterface!,
        reason: reasonFor(m, o.iface, !!klipper?.running, probeKlippy),
      }));
    // Sends only the descriptor requests of a listing; a backend that cannot load lists nothing.
    const usb =
      o.usbBackend === null
        ? []
        : await listUsbBoards(o.usbBackend).catch(() => [] as UsbBoardFound[]);
    return {
      usb: usb.filter((u) => u.command !== undefined),
      iface: o.iface,
      bitrate: bus.info.bitrate,
      configPath: config?.path,
      klipperRunning: !!klipper?.running,
      probedKlippyIds: probeKlippy,
      nodes,
      unnamed: scan.unnamed,
      missing,
    };
  } finally {
    await bus.close();
  }
}
