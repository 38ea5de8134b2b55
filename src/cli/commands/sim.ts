// canflash sim: simulated boards on any interface (vcan0, a real bus,
// virtual:<name>) until SIGINT/SIGTERM, one line per event; block reads and
// writes summarised unless --blocks.

import { formatSimEvent, runSimulatedBoards, type SimEvent } from "../../flasher/simulate.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
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
  const counts = new Map<string, { writes: number; reads: number }>();
  const onEvent = (e: SimEvent): void => {
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
  };
  await runSimulatedBoards({
    iface: o.iface,
    katapult: o.katapult,
    klipper: o.klipper,
    mcu: o.mcu,
    ...(o.dumpDir ? { dumpDir: o.dumpDir } : {}),
    signal: ctx.signal,
    onEvent,
    onDump: (uuid, path) => ctx.out.line(`${uuid} dump written: ${path}`),
    onReady: (boards) => {
      ctx.out.line(
        `sim: ${boards.length} board(s) on ${o.iface}: ${boards.map((n) => `${n.uuid} (${n.boot})`).join(", ")}`,
      );
      ctx.out.line("sim: ready (Ctrl-C to stop)");
    },
  });
  ctx.out.line("sim: stopping");
  return ExitCode.OK;
}
