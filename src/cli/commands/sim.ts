// canflash sim: simulated boards on any interface (vcan0, a real bus,
// virtual:<name>) until SIGINT/SIGTERM, one line per event. After COMPLETE
// a board's application region (app start .. last written block) is written
// to <dump-dir>/<uuid>.bin.

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openCanBus } from "../../can/open.js";
import { parseUuid } from "../../klippy-bridge/uuid.js";
import { SimCanDevice } from "../../sim/device.js";
import { formatSimEvent, type SimEvent } from "../../sim/events.js";
import { DEMO_INTERFACE } from "../bus.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import { UsageError } from "../usage-error.js";
import type { CommandContext } from "./context.js";

export interface SimOptions {
  iface: string;
  katapult: string[];
  klipper: string[];
  dumpDir?: string;
  mcu: string;
  /** Print every block read/written (default: summarised). */
  blocks: boolean;
}

export async function simCommand(o: SimOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  if (o.iface === DEMO_INTERFACE) {
    throw new UsageError(
      '"sim" is the built-in demo bus of one canflash process',
      "run the simulated boards on a shared bus: canflash sim -i vcan0 …",
    );
  }
  const nodes = [
    ...o.katapult.map((u) => ({ uuid: parseUuid(u), boot: "katapult" as const })),
    ...o.klipper.map((u) => ({ uuid: parseUuid(u), boot: "klipper" as const })),
  ];
  if (nodes.length === 0)
    throw new UsageError("no boards to simulate", "add --katapult <uuid> and/or --klipper <uuid>");
  const dupes = nodes.map((n) => n.uuid).filter((u, i, all) => all.indexOf(u) !== i);
  if (dupes.length) throw new UsageError(`UUID given twice: ${dupes.join(", ")}`);
  if (o.dumpDir) await mkdir(o.dumpDir, { recursive: true });

  const devices: SimCanDevice[] = [];
  const counts = new Map<string, { writes: number; reads: number }>();
  const pendingDumps: Promise<void>[] = [];
  const onEvent = (device: () => SimCanDevice) => (e: SimEvent) => {
    const c = counts.get(e.uuid) ?? { writes: 0, reads: 0 };
    counts.set(e.uuid, c);
    if (!o.blocks && e.type === "write" && e.ok) return void c.writes++;
    if (!o.blocks && e.type === "read") return void c.reads++;
    if (e.type === "eof") ctx.out.line(`${e.uuid} wrote ${c.writes} blocks`);
    if (e.type === "complete") ctx.out.line(`${e.uuid} verified by ${c.reads} block reads`);
    ctx.out.line(formatSimEvent(e));
    if (e.type === "eof" || e.type === "complete") {
      c.writes = 0;
      c.reads = 0;
    }
    if (e.type === "complete" && o.dumpDir) {
      const path = join(o.dumpDir, `${e.uuid}.bin`);
      pendingDumps.push(
        writeFile(path, device().writtenApplication()).then(() =>
          ctx.out.line(`${e.uuid} dump written: ${path}`),
        ),
      );
    }
  };
  try {
    for (const n of nodes) {
      const bus = await openCanBus(o.iface);
      const dev: SimCanDevice = new SimCanDevice(bus, {
        uuid: n.uuid,
        mcu: o.mcu,
        boot: n.boot,
        onEvent: onEvent(() => dev),
      });
      devices.push(dev);
    }
    for (const d of devices) d.start();
    ctx.out.line(
      `sim: ${devices.length} board(s) on ${o.iface}: ${nodes.map((n) => `${n.uuid} (${n.boot})`).join(", ")}`,
    );
    ctx.out.line("sim: ready (Ctrl-C to stop)");
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    ctx.out.line("sim: stopping");
    return ExitCode.OK;
  } finally {
    await Promise.allSettled(pendingDumps);
    await Promise.allSettled(devices.map((d) => d.close()));
  }
}
