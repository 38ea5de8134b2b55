// canflash -s / -r: one board's bootloader status, or asking it into its
// bootloader and leaving it there — over CAN (-u) or a tty (-d), the row
// (--target, else Katapult) picking the driver. Rendering only: the library
// does the work.

import { bootloaderStatus, enterBootloader, type BoardOpOptions } from "../../flasher/board-ops.js";
import { expandPath } from "../../flasher/firmware.js";
import { defaultLockDir } from "../../flasher/locks.js";
import type { KlipperEvent } from "../../flasher/guard.js";
import {
  isDriveTarget,
  linkWhere,
  parseUuid,
  type FlashRequest,
  type LineSequence,
  type SerialMode,
} from "../../flasher/requests.js";
import type { Target } from "../../flasher/targets.js";
import { isUsbDeviceSpec, isUsbTarget, usbRequestLink } from "../../flasher/usb-devices.js";
import type { OpenOcdLink } from "../../flash-api/driver.js";
import type { FlashEvent } from "../../flash-api/progress.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import { UsageError } from "../usage-error.js";
import type { CommandContext } from "./context.js";
import { klipperEventText } from "./klipper-events.js";

export interface BoardCommandOptions {
  iface: string;
  uuids: string[];
  device?: string;
  baud?: number;
  serialMode?: SerialMode;
  lineSequence?: LineSequence;
  target?: Target;
  stopKlipper?: boolean;
  config?: string;
  /** An SWD row's chip, through OpenOCD. */
  openocd?: OpenOcdLink;
}

function linkOf(o: BoardCommandOptions, what: string, ctx: CommandContext): FlashRequest["link"] {
  if (o.openocd) return o.openocd;
  if (o.target && isDriveTarget(o.target))
    return {
      kind: "drive",
      ...(o.device ? { device: expandPath(o.device, ctx.io.cwd, ctx.io.host?.home) } : {}),
    };
  if (o.device && isUsbDeviceSpec(o.device)) return usbRequestLink(o.device);
  // A USB bootloader row alone: its device is found by the row's USB ids.
  if (!o.device && o.uuids.length === 0 && o.target && isUsbTarget(o.target))
    return usbRequestLink(o.target.usbIds.length === 1 ? `usb:${o.target.usbIds[0]}` : "usb:");
  if (o.device)
    return {
      kind: "serial",
      device: expandPath(o.device, ctx.io.cwd, ctx.io.host?.home),
      ...(o.baud !== undefined ? { baud: o.baud } : {}),
      ...(o.serialMode ? { mode: o.serialMode } : {}),
      ...(o.lineSequence ? { lines: o.lineSequence } : {}),
    };
  if (o.baud !== undefined || o.serialMode || o.lineSequence)
    throw new UsageError(
      `${o.baud !== undefined ? "-b" : o.serialMode ? "--serial-mode" : "--reset-sequence"} is for boards on a tty (-d); a CAN node takes no line settings`,
      "drop it, or give -d <tty>",
    );
  if (o.uuids.length === 0)
    throw new UsageError(
      `${what} needs the node's UUID: -u <uuid>`,
      `list the nodes: canflash -i ${o.iface} -q`,
    );
  if (o.uuids.length > 1) throw new UsageError(`${what} takes one UUID, got ${o.uuids.length}`);
  return { kind: "can", iface: o.iface, uuid: parseUuid(o.uuids[0]!) };
}

function options(o: BoardCommandOptions, board: string, ctx: CommandContext): BoardOpOptions {
  return {
    klipper: {
      stopKlipper: !!o.stopKlipper,
      config: o.config,
      cwd: ctx.io.cwd,
      home: ctx.io.host?.home,
      host: ctx.io.host?.klipper,
    },
    signal: ctx.signal,
    lockDir: defaultLockDir(ctx.io.env),
    onEvent: (e: FlashEvent | KlipperEvent) =>
      e.type === "klipper" ? ctx.out.info(klipperEventText(e).text) : ctx.out.flashEvent(board, e),
    ...(ctx.trace ? { trace: ctx.trace } : {}),
  };
}

/** canflash -s: connect to the bootloader (asking the board in first where it must) and print what it reports. */
export async function statusCommand(
  o: BoardCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const link = linkOf(o, "status", ctx);
  const board = o.openocd ? linkWhere(link, o.target) : (o.device ?? linkWhere(link, o.target));
  const report = await bootloaderStatus(
    { link, ...(o.target ? { target: o.target } : {}) },
    options(o, board, ctx),
  );
  ctx.out.line(`${report.bootloader} Connected`);
  for (const f of report.fields) ctx.out.line(`${f.label}: ${f.value}`);
  for (const n of report.notes ?? []) ctx.out.line(n);
  ctx.out.line("Status Request Complete");
  return ExitCode.OK;
}

/** canflash -r: ask the board into its bootloader and confirm it answers there. */
export async function requestCommand(
  o: BoardCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const link = linkOf(o, "a bootloader request", ctx);
  const board = o.device ?? linkWhere(link, o.target);
  if (link.kind === "can") ctx.out.info("Sending bootloader jump command...");
  const r = await enterBootloader(
    { link, ...(o.target ? { target: o.target } : {}) },
    options(o, board, ctx),
  );
  if (link.kind === "can")
    ctx.out.info(
      r.already ? `${r.at} already runs ${r.bootloader}` : `${r.at} now runs ${r.bootloader}`,
    );
  else if (r.confirmed) ctx.out.info(`${r.bootloader} is on ${r.at}`);
  else
    ctx.out.info(
      `${r.bootloader} may use another baud rate than Klipper: flash with -b <its baud> (Katapult's default 250000)`,
    );
  ctx.out.line("Bootloader Request Complete");
  return ExitCode.OK;
}
