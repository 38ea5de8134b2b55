// The bus behind -i: "sim" is the built-in demo bus with simulated boards,
// "virtual:<name>" an in-process channel, anything else SocketCAN.

import type { CanBus } from "../can/bus.js";
import { openCanBus } from "../can/open.js";
import { startDemoSim } from "../sim/demo.js";

export const DEMO_INTERFACE = "sim";

export interface CliBus {
  bus: CanBus;
  close: () => Promise<void>;
}

export async function openCliBus(iface: string): Promise<CliBus> {
  if (iface === DEMO_INTERFACE) {
    const demo = startDemoSim();
    const bus = demo.openHost();
    return {
      bus,
      close: async () => {
        await bus.close();
        await demo.close();
      },
    };
  }
  const bus = await openCanBus(iface);
  return { bus, close: () => bus.close() };
}
