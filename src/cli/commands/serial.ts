// canflash -d <tty>: Katapult over USB CDC or UART — flash, status, and the
// bootloader request (1200-baud touch on USB, the request string on UART).

import {
  DEFAULT_KATAPULT_BAUD,
  katapultSerialAdapter,
  reachKatapultSerial,
  sendSerialBootloaderRequest,
} from "../../canboot/serial.js";
import type { FlashContext } from "../../flash-api/adapter.js";
import type { Target } from "../../flasher/targets.js";
import { UsbTree } from "../../transport/usb-tree.js";
import { realClock } from "../../util/clock.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import { expandPath } from "../firmware.js";
import { UsageError } from "../usage-error.js";
import { TracedTransport } from "../../transport/trace.js";
import type { CommandContext } from "./context.js";
import { avrAdapterFor, isAvrTarget } from "../../flasher/avr.js";
import { guardKlipperKeepStopped } from "../klipper-guard.js";

export interface SerialCommandOptions {
  device: string;
  baud?: number;
  target?: Target;
  stopKlipper?: boolean;
  config?: string;
}

const guard = (o: SerialCommandOptions, ctx: CommandContext) =>
  guardKlipperKeepStopped(
    { label: o.device, iface: "", device: expandPath(o.device, ctx.io.cwd) },
    { stopKlipper: !!o.stopKlipper, config: o.config },
    ctx,
  );

function baudOf(o: SerialCommandOptions): number {
  const b = o.baud ?? o.target?.defaultBaud ?? DEFAULT_KATAPULT_BAUD;
  if (!Number.isInteger(b) || b <= 0)
    throw new UsageError(`baud rate ${String(o.baud)} is not a positive integer`, "e.g. -b 250000");
  return b;
}

export async function serialStatusCommand(
  o: SerialCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  await guard(o, ctx);
  if (isAvrTarget(o.target)) return avrStatus(o.target, o, ctx);
  const adapter = katapultSerialAdapter({
    device: expandPath(o.device, ctx.io.cwd),
    baud: baudOf(o),
    ...(ctx.trace ? { wrapTransport: (t) => new TracedTransport(t, ctx.trace!) } : {}),
  });
  const fctx: FlashContext = {
    signal: ctx.signal,
    clock: realClock,
    emit: (e) => ctx.out.flashEvent(o.device, e),
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
  }
}

/** An AVR's bootloader: reset, sync, version and signature. It then times out into the application by itself. */
async function avrStatus(
  t: Target,
  o: SerialCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const adapter = avrAdapterFor(t, {
    device: expandPath(o.device, ctx.io.cwd),
    baud: baudOf(o),
    ...(ctx.trace ? { wrapTransport: (tr) => new TracedTransport(tr, ctx.trace!) } : {}),
  });
  const fctx: FlashContext = {
    signal: ctx.signal,
    clock: realClock,
    emit: (e) => ctx.out.flashEvent(o.device, e),
  };
  try {
    await adapter.enter!(fctx);
    const d = await adapter.connect(fctx);
    ctx.out.line(`${t.bootloader.split(" (")[0]} Connected`);
    ctx.out.line(`Bootloader Version: ${d.bootloaderVersion ?? "?"}`);
    ctx.out.line(`MCU type: ${d.mcu ?? "?"}`);
    ctx.out.line(`Page Size: ${d.geometry.blockSize} bytes`);
    ctx.out.line(`Application Space: 0x0..0x${(d.geometry.end ?? 0).toString(16).toUpperCase()}`);
    ctx.out.line(d.description);
    ctx.out.line("Status Request Complete");
    return ExitCode.OK;
  } finally {
    await adapter.close();
  }
}

/** USB: touch and wait for Katapult. UART: send Klipper's request string at -b. */
export async function serialRequestCommand(
  o: SerialCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  if (isAvrTarget(o.target))
    throw new UsageError(
      `${o.target.bootloader.split(" (")[0]} listens only about ${((o.target.listenWindowMs ?? 1000) / 1000).toFixed(1)} s after a reset, then starts the application: there is no staying in it`,
      `flash directly: canflash --target ${o.target.id} -d ${o.device} <file> (canflash resets the board itself)`,
    );
  await guard(o, ctx);
  const device = expandPath(o.device, ctx.io.cwd);
  const tree = new UsbTree();
  const tty = await tree.resolveTty(device);
  if (tty?.usb) {
    const r = await reachKatapultSerial(device, {
      tree,
      signal: ctx.signal,
      onInfo: (m) => ctx.out.info(m),
    });
    ctx.out.info(`Katapult is on ${r.path}`);
  } else {
    const baud = baudOf(o);
    ctx.out.info(`Sending the serial bootloader request at ${baud} baud...`);
    await sendSerialBootloaderRequest(device, baud);
    ctx.out.info(
      "Katapult may use another baud rate than Klipper: flash with -b <Katapult's baud> (default 250000)",
    );
  }
  ctx.out.line("Bootloader Request Complete");
  return ExitCode.OK;
}
