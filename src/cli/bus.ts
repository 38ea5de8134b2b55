// The bus behind -i: "sim" is the built-in demo bus with simulated boards,
// "virtual:<name>" an in-process channel, anything else SocketCAN.

import type { CanBus } from "../can/bus.js";
import { openCanBus } from "../can/open.js";
import { startDemoSim } from "../sim/demo.js";
import { TracedBus, type TraceSink } from "../can/trace.js";

export const DEMO_INTERFACE = "sim";

export interface CliBus {
  bus: CanBus;
  close: () => Promise<void>;
}

/** Opens -i; with `trace`, every frame sent and received is also written there. */
export async function openCliBus(iface: string, trace?: TraceSink): Promise<CliBus> {
  const traced = (bus: CanBus): CanBus => (trace ? new TracedBus(bus, trace) : bus);
  if (iface === DEMO_INTERFACE) {
    const demo = startDemoSim();
    const bus = traced(demo.openHost());
    return {
      bus,
      close: async () => {
        await bus.close();
        await demo.close();
      },
    };
  }
  const bus = traced(await openCanBus(iface));
  return { bus, close: () => bus.close() };
}
