// The CAN commands: query, flash, status, request-bootloader. Inputs are
// validated before a bus is opened, so bad input sends nothing.

import { katapultCanAdapter } from "../../canboot/can.js";
import { waitForKatapult } from "../../canboot/can-admin.js";
import { isVirtualChannel } from "../../can/open.js";
import { scanCanBus, type ScannedNode } from "../../flasher/scan.js";
import { KLIPPY_PROBE_IDS } from "../../klippy-bridge/assigned.js";
import { detectKlipper } from "../../klippy-bridge/klippy.js";
import { mcuForUuid, type ConfiguredMcu } from "../../klippy-bridge/mcu-inventory.js";
import type { MissingLine, NodeLine } from "../output.js";
import { choosePrinterConfig } from "../printer-config.js";
import type { FlashContext } from "../../flash-api/adapter.js";
import { parseUuid, type Uuid } from "../../klippy-bridge/uuid.js";
import { realClock } from "../../util/clock.js";
import { DEMO_INTERFACE, openCliBus } from "../bus.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import { UsageError } from "../usage-error.js";
import type { CommandContext } from "./context.js";
import { guardKlipperKeepStopped } from "../klipper-guard.js";

export interface CanCommandOptions {
  iface: string;
  uuids: string[];
  queryMs?: number;
  /** -q: read Klipper nodes' dictionaries and look for nodes holding an id (default true). */
  identify?: boolean;
  /** -q: CONNECT to Katapult nodes for version and MCU. */
  katapultInfo?: boolean;
  /** printer.cfg to compare with (and to know which nodes Klipper holds). */
  config?: string;
  /** -r/-s on a node Klipper holds: stop Klipper first. */
  stopKlipper?: boolean;
}

const guard = (o: CanCommandOptions, uuid: Uuid, ctx: CommandContext) =>
  guardKlipperKeepStopped(
    { label: uuid, uuid, iface: o.iface },
    { stopKlipper: !!o.stopKlipper, config: o.config },
    ctx,
  );

function oneUuid(o: CanCommandOptions, what: string): Uuid {
  if (o.uuids.length === 0)
    throw new UsageError(
      `${what} needs the node's UUID: -u <uuid>`,
      `list the nodes: canflash -i ${o.iface} -q`,
    );
  if (o.uuids.length > 1) throw new UsageError(`${what} takes one UUID, got ${o.uuids.length}`);
  return parseUuid(o.uuids[0]!);
}

/** canflash -q: clear Katapult node ids, query, identify, and compare with printer.cfg. */
export async function queryCommand(
  o: CanCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const identify = o.identify ?? true;
  const simulated = o.iface === DEMO_INTERFACE || isVirtualChannel(o.iface);
  // Whether a Klipper on this host holds nodes matters only for a real bus.
  const klipper =
    simulated && !ctx.io.host?.klipper
      ? undefined
      : await detectKlipper(ctx.io.host?.klipper ?? {});
  const { config, note } = await choosePrinterConfig({
    flag: o.config,
    iface: o.iface,
    cwd: ctx.io.cwd,
    home: ctx.io.host?.home,
    klipper,
  });
  if (note) ctx.out.info(note);
  else if (config) ctx.out.info(`Using ${config.path}`);
  const onThisBus = (config?.mcus ?? []).filter((m) => m.canbusInterface === o.iface);

  const cliBus = await openCliBus(o.iface, ctx.trace);
  try {
    // Probing node ids Klippy uses is safe only while no Klippy talks to them.
    const probeKlippy = identify && !klipper?.running;
    const probeIds = probeKlippy
      ? [
          ...KLIPPY_PROBE_IDS,
          ...onThisBus.map((m) => m.klipperNodeId).filter((n): n is number => n !== undefined),
        ]
      : [];
    ctx.out.info("Resetting all bootloader node IDs...");
    ctx.out.info("Checking for Katapult nodes...");
    const scan = await scanCanBus(cliBus.bus, {
      identify,
      katapultInfo: !!o.katapultInfo,
      probeIds,
      signal: ctx.signal,
      ...(o.queryMs !== undefined ? { queryMs: o.queryMs } : {}),
    });

    for (const n of scan.nodes) {
      const m = config ? mcuForUuid(config.mcus, n.uuid, o.iface) : undefined;
      const line = nodeLine(n, o.iface, m?.section);
      ctx.out.node(line, nodeText(line));
    }
    for (const u of scan.unnamed)
      ctx.out.info(
        `A Klipper node holds node id ${u.nodeId} but could not be identified: ${u.error}`,
      );

    const found = new Set(scan.nodes.map((n) => n.uuid));
    const missing = (config?.mcus ?? []).filter(
      (m) => m.canbusUuid !== undefined && !found.has(m.canbusUuid),
    );
    if (missing.length > 0) ctx.out.info("Configured in printer.cfg but not found:");
    for (const m of missing) {
      const why = missingReason(m, {
        iface: o.iface,
        klipperRunning: !!klipper?.running,
        probed: probeKlippy,
        bitrate: cliBus.bitrate,
      });
      const line: MissingLine = {
        section: m.section,
        uuid: m.canbusUuid!,
        interface: m.canbusInterface!,
        reason: why.reason,
        ...(why.fix ? { fix: why.fix } : {}),
      };
      ctx.out.missing(
        line,
        `  [${m.section}] ${m.canbusUuid}: ${why.reason}${why.fix ? ` — ${why.fix}` : ""}`,
      );
    }

    if (scan.nodes.length === 0) {
      ctx.out.error({
        exitCode: ExitCode.NO_NODE,
        message: `no node answered on ${o.iface}`,
        causes: klipper?.running
          ? [
              "Klipper is running: the nodes it holds have node ids and do not answer queries",
              `the nodes run at another bitrate than ${o.iface}`,
            ]
          : [
              probeKlippy
                ? "no node answered the query, and none holds a Klipper node id"
                : "nodes that hold a node id (from Klipper) do not answer queries: power-cycle them",
              `the nodes run at another bitrate than ${o.iface}${cliBus.bitrate ? ` (${cliBus.bitrate} bit/s)` : ""}`,
              "the boards are not powered, or the bus is unterminated",
            ],
        next: [
          ...(klipper?.running
            ? ["stop Klipper and query again: sudo systemctl stop klipper"]
            : []),
          "check the interface: canflash doctor",
        ],
      });
      return ExitCode.NO_NODE;
    }
    ctx.out.line("CANBus UUID Query Complete");
    return ExitCode.OK;
  } finally {
    await cliBus.close();
  }
}

function nodeLine(n: ScannedNode, iface: string, section: string | undefined): NodeLine {
  const d = n.dictionary;
  const k = n.katapult;
  return {
    uuid: n.uuid,
    application: n.application,
    interface: iface,
    found: n.found,
    ...(n.nodeId !== undefined && n.found === "node-id" ? { nodeId: n.nodeId } : {}),
    ...((d?.mcu ?? k?.mcu) ? { mcu: (d?.mcu ?? k?.mcu)! } : {}),
    ...((d?.version ?? k?.softwareVersion) ? { version: (d?.version ?? k?.softwareVersion)! } : {}),
    ...(d ? { transport: d.transport } : {}),
    ...(d?.canbusFrequency !== undefined ? { canbusFrequency: d.canbusFrequency } : {}),
    ...(k ? { blockSize: k.blockSize, appStart: k.appStart, protocol: k.protocol } : {}),
    ...(section ? { section } : {}),
    ...(n.error ? { error: n.error } : {}),
  };
}

/** flashtool's line, then what canflash knows besides. */
function nodeText(n: NodeLine): string {
  const parts = [`Detected UUID: ${n.uuid}, Application: ${n.application}`];
  if (n.mcu) parts.push(`MCU: ${n.mcu}`);
  if (n.version) parts.push(`Version: ${n.version}`);
  if (n.blockSize !== undefined) parts.push(`Block Size: ${n.blockSize}`);
  if (n.appStart !== undefined) parts.push(`App Start: 0x${n.appStart.toString(16)}`);
  if (n.found === "node-id")
    parts.push(`holds node id ${n.nodeId} (from an earlier Klipper run; silent to queries)`);
  if (n.error) parts.push(`not identified: ${n.error}`);
  return parts.join(", ") + (n.section ? ` [${n.section}]` : "");
}

function missingReason(
  m: ConfiguredMcu,
  o: { iface: string; klipperRunning: boolean; probed: boolean; bitrate: number | undefined },
): { reason: string; fix?: string } {
  if (m.canbusInterface !== o.iface)
    return {
      reason: `configured on ${m.canbusInterface}, not on ${o.iface}`,
      fix: `canflash -i ${m.canbusInterface} -q`,
    };
  if (o.klipperRunning)
    return {
      reason: "Klipper is running and holds it (a node with a node id does not answer queries)",
      fix: `stop Klipper to list it (sudo systemctl stop klipper); flash it with canflash --stop-klipper -u ${m.canbusUuid}`,
    };
  if (o.probed)
    return {
      reason: `no answer, neither to the query nor on node id ${m.klipperNodeId}: not powered, CAN wiring or termination, or firmware at another bitrate than ${o.iface}${o.bitrate ? ` (${o.bitrate} bit/s)` : ""}`,
      fix: "check its power and CAN wiring; canflash doctor checks the interface",
    };
  return {
    reason:
      "did not answer the query: it may hold a node id from an earlier Klipper run, or it is not powered or at another bitrate",
    fix: "query without --no-identify to look for nodes holding an id, or power-cycle the board",
  };
}

/** canflash -s -u <uuid>: enter the bootloader, connect, print what it reports. The board stays in Katapult. */
export async function statusCommand(
  o: CanCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const uuid = oneUuid(o, "status");
  await guard(o, uuid, ctx);
  const { bus, close } = await openCliBus(o.iface, ctx.trace);
  const adapter = katapultCanAdapter({ bus, uuid });
  const fctx: FlashContext = {
    signal: ctx.signal,
    clock: bus.clock ?? realClock,
    emit: (e) => ctx.out.flashEvent(uuid, e),
  };
  try {
    await adapter.enter(fctx);
    await adapter.connect(fctx);
    const info = adapter.connectInfo!;
    ctx.out.line("Katapult Connected");
    ctx.out.line(`Software Version: ${info.softwareVersion ?? "?"}`);
    ctx.out.line(`Protocol Version: ${info.protocol}`);
    ctx.out.line(`Block Size: ${info.blockSize} bytes`);
    ctx.out.line(`Application Start: 0x${info.appStart.toString(16).toUpperCase()}`);
    ctx.out.line(`MCU type: ${info.mcu}`);
    ctx.out.line("Status Request Complete");
    return ExitCode.OK;
  } finally {
    await adapter.close();
    await close();
  }
}

/** canflash -r -u <uuid>: ask the node into Katapult and confirm it answers as Katapult. */
export async function requestCommand(
  o: CanCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const uuid = oneUuid(o, "a bootloader request");
  await guard(o, uuid, ctx);
  const { bus, close } = await openCliBus(o.iface, ctx.trace);
  try {
    ctx.out.info("Sending bootloader jump command...");
    const r = await waitForKatapult(bus, uuid, {
      signal: ctx.signal,
      onRequest: (why) =>
        ctx.out.info(
          why === "answered-as-klipper"
            ? `${uuid} runs Klipper: requested its bootloader`
            : `${uuid} did not answer: requested its bootloader`,
        ),
    });
    ctx.out.info(r.requested ? `${uuid} now runs Katapult` : `${uuid} already runs Katapult`);
    ctx.out.line("Bootloader Request Complete");
    return ExitCode.OK;
  } finally {
    await close();
  }
}
