// The bus behind -i: "sim" is the built-in demo bus with simulated boards,
// "virtual:<name>" an in-process channel, anything else SocketCAN.

import type { CanBus } from "../can/bus.js";
import { isVirtualChannel, openCanBus, VIRTUAL_PREFIX } from "../can/open.js";
import { listCanInterfaces } from "../can/interfaces.js";
import { VirtualCanChannel } from "../can/virtual.js";
import { DEMO_BITRATE, startDemoSim } from "../sim/demo.js";
import { TracedBus, type TraceSink } from "../can/trace.js";

export const DEMO_INTERFACE = "sim";

export interface CliBus {
  bus: CanBus;
  /** The bus's bitrate where it is known (for the image's CAN bitrate check). */
  bitrate: number | undefined;
  close: () => Promise<void>;
}

async function bitrateOf(iface: string): Promise<number | undefined> {
  if (iface === DEMO_INTERFACE) return DEMO_BITRATE;
  if (isVirtualChannel(iface))
    return VirtualCanChannel.get(iface.slice(VIRTUAL_PREFIX.length))?.bitrate;
  try {
    return (await listCanInterfaces()).find((i) => i.name === iface)?.bitrate;
  } catch {
    return undefined;
  }
}

/** Opens -i; with `trace`, every frame sent and received is also written there. */
export async function openCliBus(iface: string, trace?: TraceSink): Promise<CliBus> {
  const traced = (bus: CanBus): CanBus => (trace ? new TracedBus(bus, trace) : bus);
  if (iface === DEMO_INTERFACE) {
    const demo = startDemoSim();
    const bus = traced(demo.openHost());
    return {
      bus,
      bitrate: DEMO_BITRATE,
      close: async () => {
        await bus.close();
        await demo.close();
      },
    };
  }
  const bus = traced(await openCanBus(iface));
  return { bus, bitrate: await bitrateOf(iface), close: () => bus.close() };
}
