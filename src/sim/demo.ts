// The built-in demo bus behind `-i sim`: a 1 Mbit/s virtual channel with
// bus-time accounting: two Katapult boards, one Klipper board (STM32G0B1-like
// flash timing), and one Klipper board that holds a node id from an earlier
// Klipper run, so a newcomer can query and flash without hardware. The first
// UUIDs are the worked examples of the protocol notes; examples/printer.cfg
// names these boards (and one that is not there).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CanBackend } from "../can/backends.js";
import type { CanBus } from "../can/bus.js";
import { OwningBus } from "../can/delegate.js";
import { VirtualCanChannel } from "../can/virtual.js";
import { realClock, type Clock } from "../util/clock.js";
import { SimCanDevice, type SimCanDeviceOptions } from "./device.js";
import type { SimEventListener } from "./events.js";

export const DEMO_BITRATE = 1_000_000;
export const DEMO_NODES: readonly SimCanDeviceOptions[] = [
  { uuid: "8266c4636429", mcu: "stm32g0b1xx", boot: "katapult" },
  { uuid: "ef00c3c43f24", mcu: "stm32g0b1xx", boot: "katapult" },
  {
    uuid: "625720a262c6",
    mcu: "stm32g0b1xx",
    boot: "klipper",
    klipper: { bootloaderDelayMs: 200 },
  },
  // Klipper on an RP2040 toolhead that still holds node id 5 from a Klippy
  // run that has since stopped: silent to queries, found by probing.
  {
    uuid: "3a1b5c7d9e0f",
    mcu: "rp2040",
    boot: "klipper",
    klipperVersion: "v0.12.0-427-g1a2b3c4d",
    flash: { base: 0x10000000, size: 2 * 1024 * 1024 },
    katapult: { appStart: 0x10004000, blockSize: 64 },
    klipper: { bootloaderDelayMs: 200, heldByNodeId: 5 },
  },
];

export interface DemoSim {
  channel: VirtualCanChannel;
  devices: SimCanDevice[];
  /** A new host endpoint on the demo bus. */
  openHost(): CanBus;
  close(): Promise<void>;
}

export function startDemoSim(
  options: {
    clock?: Clock;
    bitrate?: number;
    busTime?: boolean;
    onEvent?: SimEventListener;
    /** Boards keep their flash in <stateDir>/<uuid>.flash across runs (`-i sim:<dir>`). */
    stateDir?: string;
  } = {},
): DemoSim {
  const channel = VirtualCanChannel.anonymous({
    label: "sim",
    clock: options.clock ?? realClock,
    bitrate: options.bitrate ?? DEMO_BITRATE,
    // No bus-time model: it needs a clock that polls, and the demo looks right without it.
    busTime: options.busTime ?? false,
  });
  const stateOf = (uuid: string) =>
    options.stateDir ? join(options.stateDir, `${uuid}.flash`) : undefined;
  const devices = DEMO_NODES.map((o) => {
    const file = stateOf(o.uuid);
    const saved = file && existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
    const d = new SimCanDevice(channel.open({ label: o.uuid, txQueueLength: 3 }), {
      ...o,
      // A board flashed in an earlier run boots what it holds (its application if valid).
      ...(saved ? { boot: undefined, flash: { ...o.flash, initial: saved } } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    d.start();
    return d;
  });
  return {
    channel,
    devices,
    openHost: () => channel.open({ label: "host", backend: "sim" }),
    close: async () => {
      if (options.stateDir) {
        mkdirSync(options.stateDir, { recursive: true });
        for (const d of devices) if (d.written) writeFileSync(stateOf(d.uuid)!, d.flashContents());
      }
      await Promise.all(devices.map((d) => d.close()));
    },
  };
}

/** The name `-i` takes for the demo bus. */
export const DEMO_INTERFACE = "sim";

/** The demo bus as a CAN backend: each open starts its own simulated boards; closing the bus stops them. */
export const demoBackend: CanBackend = {
  name: "sim",
  matches: (iface) => iface === DEMO_INTERFACE || iface.startsWith(`${DEMO_INTERFACE}:`),
  simulated: true,
  isolated: true,
  open: (iface) => {
    const stateDir = iface.startsWith(`${DEMO_INTERFACE}:`)
      ? iface.slice(DEMO_INTERFACE.length + 1)
      : undefined;
    const demo = startDemoSim(stateDir ? { stateDir } : {});
    return Promise.resolve(new OwningBus(demo.openHost(), () => demo.close()));
  },
};
