// Simulated boards on any CAN interface (vcan0, a real bus, virtual:<name>)
// until the signal fires: Katapult boards, and Klipper boards with Katapult
// installed, each on its own endpoint. Events go to the caller; after
// COMPLETE a board's application region (app start .. last written block)
// can be written to <dumpDir>/<uuid>.bin.

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isIsolatedInterface, openCanBus } from "./buses.js";
import { parseUuid, type Uuid } from "../klippy-bridge/uuid.js";
import { SimCanDevice } from "../sim/device.js";
import { klipperImage } from "../sim/klipper-image.js";
import { mcuFlash } from "../targets/index.js";
import { formatSimEvent, type SimEvent } from "../sim/events.js";
import { CanflashError } from "../util/errors.js";

export { formatSimEvent, type SimEvent };

export interface DemoImageOptions {
  /** Klipper's MCU name (default stm32g0b1xx, the demo bus's). */
  mcu?: string;
  transport?: "can" | "usb-can-bridge" | "serial" | "usb";
  /** CAN bitrate the build talks at (default 1000000, the demo bus's). */
  bitrate?: number;
  /** Where it is linked (default: the MCU's flash start + 8 KiB, Katapult's usual offset). */
  appStart?: number;
  size?: number;
  version?: string;
}

/**
 * A Klipper-like image for trying canflash without a Klipper build: a vector
 * table linked for `appStart` and a real data dictionary (MCU, transport,
 * bitrate), so every pre-flight check treats it as the build it describes.
 */
export function demoImage(o: DemoImageOptions = {}): Uint8Array {
  const mcu = o.mcu ?? "stm32g0b1xx";
  const base = mcuFlash(mcu)?.flashBase ?? 0x08000000;
  const transport = o.transport ?? "can";
  return klipperImage({
    mcu,
    transport,
    ...(transport === "can" || transport === "usb-can-bridge"
      ? { canbusFrequency: o.bitrate ?? 1_000_000 }
      : {}),
    appStart: o.appStart ?? base + 0x2000,
    ...(o.size !== undefined ? { size: o.size } : {}),
    version: o.version ?? "v0.12.0-demo",
  });
}

declare module "../util/errors.js" {
  interface ErrorCodes {
    SIM_INPUT: true;
  }
}

/** Bad input for the simulator: nothing was started. */
export class SimInputError extends CanflashError {
  constructor(
    readonly problem: "demo-bus" | "no-boards" | "duplicate",
    readonly uuids: readonly string[] = [],
    readonly iface?: string,
  ) {
    super(
      "SIM_INPUT",
      problem === "demo-bus"
        ? `"${iface}" is the built-in demo bus of one canflash process`
        : problem === "no-boards"
          ? "no boards to simulate"
          : `UUID given twice: ${uuids.join(", ")}`,
    );
  }
}

export interface SimulateOptions {
  iface: string;
  katapult: readonly string[];
  klipper: readonly string[];
  mcu: string;
  dumpDir?: string;
  signal: AbortSignal;
  onEvent: (e: SimEvent) => void;
  /** A dump was written. */
  onDump?: (uuid: Uuid, path: string) => void;
  /** All boards are on the bus. */
  onReady?: (boards: ReadonlyArray<{ uuid: Uuid; boot: "katapult" | "klipper" }>) => void;
}

/** Runs the boards until `signal` fires. Throws SimInputError before starting anything. */
export async function runSimulatedBoards(o: SimulateOptions): Promise<void> {
  if (isIsolatedInterface(o.iface)) throw new SimInputError("demo-bus", [], o.iface);
  const nodes = [
    ...o.katapult.map((u) => ({ uuid: parseUuid(u), boot: "katapult" as const })),
    ...o.klipper.map((u) => ({ uuid: parseUuid(u), boot: "klipper" as const })),
  ];
  if (nodes.length === 0) throw new SimInputError("no-boards");
  const dupes = nodes.map((n) => n.uuid).filter((u, i, all) => all.indexOf(u) !== i);
  if (dupes.length) throw new SimInputError("duplicate", dupes);
  if (o.dumpDir) await mkdir(o.dumpDir, { recursive: true });
  const devices: SimCanDevice[] = [];
  const pendingDumps: Promise<void>[] = [];
  try {
    for (const n of nodes) {
      const bus = await openCanBus(o.iface);
      const dev: SimCanDevice = new SimCanDevice(bus, {
        uuid: n.uuid,
        mcu: o.mcu,
        boot: n.boot,
        onEvent: (e) => {
          o.onEvent(e);
          if (e.type === "complete" && o.dumpDir) {
            const path = join(o.dumpDir, `${e.uuid}.bin`);
            pendingDumps.push(
              writeFile(path, dev.writtenApplication()).then(() => o.onDump?.(n.uuid, path)),
            );
          }
        },
      });
      devices.push(dev);
    }
    for (const d of devices) d.start();
    o.onReady?.(nodes);
    await new Promise<void>((resolve) => {
      if (o.signal.aborted) resolve();
      else o.signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    await Promise.allSettled(pendingDumps);
    await Promise.allSettled(devices.map((d) => d.close()));
  }
}
