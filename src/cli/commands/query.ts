// canflash -q: render the library's query — flashtool's lines first, then
// what canflash knows besides, then the configured boards that did not show
// up, each with its likely reason and fix.

import { queryInterface, type MissingReason, type QueriedNode } from "../../flasher/query.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { MissingLine, NodeLine } from "../output.js";
import type { CommandContext } from "./context.js";

export interface QueryCommandOptions {
  iface: string;
  queryMs?: number;
  /** Read Klipper nodes' dictionaries and look for nodes holding an id (default true). */
  identify?: boolean;
  /** CONNECT to Katapult nodes for version and MCU. */
  katapultInfo?: boolean;
  /** printer.cfg to compare with. */
  config?: string;
}

export async function queryCommand(
  o: QueryCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const q = await queryInterface({
    iface: o.iface,
    ...(o.identify !== undefined ? { identify: o.identify } : {}),
    katapultInfo: !!o.katapultInfo,
    ...(o.queryMs !== undefined ? { queryMs: o.queryMs } : {}),
    config: o.config,
    cwd: ctx.io.cwd,
    home: ctx.io.host?.home,
    host: ctx.io.host?.klipper,
    signal: ctx.signal,
    ...(ctx.trace ? { trace: ctx.trace } : {}),
    onEvent: (e) => {
      if (e.type === "config") {
        if (e.note)
          ctx.out.info(
            `${e.note}${e.note.startsWith("no printer.cfg") ? "; --config <file>" : ""}`,
          );
        else if (e.path) ctx.out.info(`Using ${e.path}`);
      } else {
        ctx.out.info("Resetting all bootloader node IDs...");
        ctx.out.info("Checking for Katapult nodes...");
      }
    },
  });
  for (const n of q.nodes) {
    const line = nodeLine(n, o.iface);
    ctx.out.node(line, nodeText(line));
  }
  for (const u of q.unnamed)
    ctx.out.info(
      `A Klipper node holds node id ${u.nodeId} but could not be identified: ${u.error}`,
    );
  for (const u of q.usb)
    ctx.out.info(
      `USB ${u.usbId}${u.device.portPath ? ` at ${u.device.portPath}` : ""}: ${u.description}; flash it: ${u.command}`,
    );
  if (q.missing.length > 0) ctx.out.info("Configured in printer.cfg but not found:");
  for (const m of q.missing) {
    const why = missingText(m.reason, m.uuid, o.iface, q.bitrate);
    const line: MissingLine = {
      section: m.section,
      uuid: m.uuid,
      interface: m.iface,
      reason: why.reason,
      ...(why.fix ? { fix: why.fix } : {}),
    };
    ctx.out.missing(
      line,
      `  [${m.section}] ${m.uuid}: ${why.reason}${why.fix ? ` — ${why.fix}` : ""}`,
    );
  }
  if (q.nodes.length === 0) {
    ctx.out.error(
      {
        exitCode: ExitCode.NO_NODE,
        message: `no node answered on ${o.iface}`,
        causes: q.klipperRunning
          ? [
              "Klipper is running: the nodes it holds have node ids and do not answer queries",
              `the nodes run at another bitrate than ${o.iface}`,
            ]
          : [
              q.probedKlippyIds
                ? "no node answered the query, and none holds a Klipper node id"
                : "nodes that hold a node id (from Klipper) do not answer queries: power-cycle them",
              `the nodes run at another bitrate than ${o.iface}${q.bitrate ? ` (${q.bitrate} bit/s)` : ""}`,
              "the boards are not powered, or the bus is unterminated",
            ],
        next: [
          ...(q.klipperRunning
            ? ["stop Klipper and query again: sudo systemctl stop klipper"]
            : []),
          "check the interface: canflash doctor",
        ],
      },
      undefined,
      "NO_NODE",
    );
    return ExitCode.NO_NODE;
  }
  ctx.out.line("CANBus UUID Query Complete");
  return ExitCode.OK;
}

function nodeLine(n: QueriedNode, iface: string): NodeLine {
  const d = n.dictionary;
  const k = n.katapult;
  return {
    uuid: n.uuid,
    application: n.application,
    interface: iface,
    found: n.found,
    ...(n.nodeId !== undefined && n.found === "node-id" ? { nodeId: n.nodeId } : {}),
    ...((d?.mcu ?? k?.mcu) ? { mcu: (d?.mcu ?? k?.mcu)! } : {}),
    ...((d?.version ?? k?.bootloaderVersion)
      ? { version: (d?.version ?? k?.bootloaderVersion)! }
      : {}),
    ...(d ? { transport: d.transport } : {}),
    ...(d?.canbusFrequency !== undefined ? { canbusFrequency: d.canbusFrequency } : {}),
    ...(k
      ? {
          blockSize: k.geometry.blockSize,
          appStart: k.geometry.start,
          ...(k.protocolVersion ? { protocol: k.protocolVersion } : {}),
        }
      : {}),
    ...(n.section ? { section: n.section } : {}),
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
    parts.push(
      n.application === "Kalico"
        ? `holds node id ${n.nodeId} (Kalico answered the extended query)`
        : `holds node id ${n.nodeId} (from an earlier Klipper run; silent to queries)`,
    );
  if (n.error) parts.push(`not identified: ${n.error}`);
  return parts.join(", ") + (n.section ? ` [${n.section}]` : "");
}

function missingText(
  r: MissingReason,
  uuid: string,
  iface: string,
  bitrate: number | undefined,
): { reason: string; fix?: string } {
  switch (r.kind) {
    case "other-interface":
      return {
        reason: `configured on ${r.iface}, not on ${iface}`,
        fix: `canflash -i ${r.iface} -q`,
      };
    case "klipper-running":
      return {
        reason: "Klipper is running and holds it (a node with a node id does not answer queries)",
        fix: `stop Klipper to list it (sudo systemctl stop klipper); flash it with canflash --stop-klipper -u ${uuid}`,
      };
    case "no-answer-probed":
      return {
        reason: `no answer, neither to the query nor on node id ${r.nodeId}: not powered, CAN wiring or termination, or firmware at another bitrate than ${iface}${bitrate ? ` (${bitrate} bit/s)` : ""}`,
        fix: "check its power and CAN wiring; canflash doctor checks the interface",
      };
    case "no-answer":
      return {
        reason:
          "did not answer the query: it may hold a node id from an earlier Klipper run, or it is not powered or at another bitrate",
        fix: "query without --no-identify to look for nodes holding an id, or power-cycle the board",
      };
  }
}
