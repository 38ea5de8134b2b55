// The CAN commands: query, flash, status, request-bootloader. Inputs are
// validated before a bus is opened, so bad input sends nothing.

import { katapultCanAdapter } from "../../canboot/can.js";
import { clearKatapultNodeIds, queryNodes, waitForKatapult } from "../../canboot/can-admin.js";
import type { FlashContext } from "../../flash-api/adapter.js";
import { parseUuid, type Uuid } from "../../klippy-bridge/uuid.js";
import { realClock } from "../../util/clock.js";
import { openCliBus } from "../bus.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import { UsageError } from "../usage-error.js";
import type { CommandContext } from "./context.js";

export interface CanCommandOptions {
  iface: string;
  uuids: string[];
  queryMs?: number;
}

function oneUuid(o: CanCommandOptions, what: string): Uuid {
  if (o.uuids.length === 0)
    throw new UsageError(
      `${what} needs the node's UUID: -u <uuid>`,
      `list the nodes: canflash -i ${o.iface} -q`,
    );
  if (o.uuids.length > 1) throw new UsageError(`${what} takes one UUID, got ${o.uuids.length}`);
  return parseUuid(o.uuids[0]!);
}

const APP_NAMES = { katapult: "Katapult", klipper: "Klipper" } as const;

/** canflash -q: clear Katapult node ids, query, list what answered. */
export async function queryCommand(
  o: CanCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const { bus, close } = await openCliBus(o.iface, ctx.trace);
  try {
    ctx.out.info("Resetting all bootloader node IDs...");
    await clearKatapultNodeIds(bus);
    ctx.out.info("Checking for Katapult nodes...");
    const answers = await queryNodes(bus, {
      signal: ctx.signal,
      ...(o.queryMs !== undefined ? { windowMs: o.queryMs } : {}),
    });
    for (const a of answers) {
      const app =
        a.appByte === undefined
          ? "Klipper"
          : a.appByte === 0x01 || a.appByte === 0x11
            ? APP_NAMES[a.app]
            : "Unknown";
      ctx.out.node(
        { uuid: a.uuid, application: app, interface: o.iface },
        `Detected UUID: ${a.uuid}, Application: ${app}`,
      );
    }
    if (answers.length === 0) {
      ctx.out.error({
        exitCode: ExitCode.NO_NODE,
        message: `no node answered on ${o.iface}`,
        causes: [
          "nodes that Klipper has claimed do not answer queries: stop Klipper first (sudo systemctl stop klipper)",
          `the nodes run at another bitrate than ${o.iface}`,
          "the boards are not powered, or the bus is unterminated",
        ],
        next: ["check the interface: canflash doctor"],
      });
      return ExitCode.NO_NODE;
    }
    ctx.out.line("CANBus UUID Query Complete");
    return ExitCode.OK;
  } finally {
    await close();
  }
}

/** canflash -s -u <uuid>: enter the bootloader, connect, print what it reports. The board stays in Katapult. */
export async function statusCommand(
  o: CanCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const uuid = oneUuid(o, "status");
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
